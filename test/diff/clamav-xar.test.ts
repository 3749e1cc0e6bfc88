/**
 * XAR layers: `vigil scan` against `clamscan` on seeded archives in the layout `xar` and
 * `pkgbuild` write (built by code: no xar tool is packaged for Debian) — extents zlib-, LZMA-,
 * bzip2-, xz-encoded or stored, in `<data>` and `<ea>` elements, subdocuments, XAR inside ZIP and
 * gzip, ZIP inside XAR — and on damaged ones: cut short, a byte flipped in the heap, a TOC declared
 * shorter or longer than it is, a compressed TOC cut short, malformed TOC XML, a `<data>` without its size, an extent past the end. The
 * same `FOUND` lines and exit code in default mode, with `--allmatch`, with `-a`, and with a
 * MaxFileSize limit alerted.
 *
 * Skips with a message when clamscan 1.4, xz or bzip2 is absent.
 */
import { test } from 'node:test';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateRawSync, gzipSync } from 'node:zlib';
import { Prng } from '../helpers/prng.js';
import { buildZip } from '../helpers/zip-writer.js';
import { CLAMSCAN_SKIP } from '../helpers/clamscan-run.js';
import { compareLayers, MARKS } from './layers-diff.js';
import { buildXar, encodeXarData, type XarEncoding, type XarFile } from '../../src/formats/archive/xar-build.js';

const SEED = process.env['VIGIL_DIFF_SEED'] ?? '20261129';
const works = (tool: string): boolean => spawnSync(tool, ['--version'], { stdio: 'ignore' }).status === 0;
const SKIP = CLAMSCAN_SKIP || (!works('xz') || !works('bzip2') ? 'xz or bzip2 is not installed: differential test skipped' : false);
const ENCODINGS: readonly XarEncoding[] = ['gzip', 'lzma', 'bzip2', 'xz', 'none'];

test('XAR archives: vigil and clamscan agree', { skip: SKIP }, async (t) => {
  const rng = new Prng(`${SEED}:xar`);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-xar-'));
  try {
    const data = join(dir, 'data');
    mkdirSync(data);
    const hashes: string[] = [];
    let n = 0;
    const payload = (): Buffer => {
      const filler = (k: number): Buffer => Buffer.from(rng.bytes(k));
      const b = rng.chance(0.8)
        ? Buffer.concat([filler(rng.int(0, 600)), Buffer.from(rng.pick(MARKS), 'latin1'), filler(rng.int(0, 600))])
        : filler(rng.int(1, 900));
      hashes.push(`${createHash('md5').update(b).digest('hex')}:${b.length}:Inner.${n++}`);
      return b;
    };
    const files = (): XarFile[] => Array.from({ length: rng.int(1, 4) }, (_, i) => ({
      name: `f${i}.bin`, data: payload(), encoding: rng.pick(ENCODINGS), ea: rng.chance(0.2),
    }));
    const put = (name: string, b: Uint8Array): void => writeFileSync(join(data, name), b);

    for (let i = 0; i < 24; i++) {
      const subdocs = rng.chance(0.3) ? [`<info>${rng.pick(MARKS)}</info>`] : [];
      put(`plain${i}.xar`, buildXar(files(), { subdocs, headerSize: rng.chance(0.2) ? 32 : 28 }));
    }
    for (let i = 0; i < 16; i++) {
      const x = buildXar(files());
      const kind = i % 8;
      if (kind === 0) put(`cut${i}.xar`, x.subarray(0, rng.int(20, x.length - 1)));
      else if (kind === 1) {
        const y = Uint8Array.from(x);
        const at = rng.int(x.length - 200 > 28 ? x.length - 200 : 28, x.length - 1);
        y[at] = y[at]! ^ (1 << rng.int(0, 7));
        put(`flip${i}.xar`, y);
      } else if (kind === 2) {
        put(`short-toc${i}.xar`, buildXar(files(), { tocSizeOverride: rng.int(200, 500) }));
      } else if (kind === 3) {
        put(`bad-xml${i}.xar`, buildXar(files(), { tocTemplate: `<?xml version="1.0"?>\n<xar><toc>{{FILES}}</wrong></toc></xar>` }));
      } else if (kind === 4) {
        const fs = files();
        put(`no-size${i}.xar`, buildXar(fs, { tocTemplate: `<xar><toc>{{FILES}}<file><data><offset>0</offset><length>9</length></data></file></toc></xar>` }));
      } else if (kind === 6) {
        // The compressed TOC declared shorter than it is: its stream is cut short.
        const y = Buffer.from(x);
        y.writeBigUInt64BE(y.readBigUInt64BE(8) - BigInt(rng.int(1, 20)), 8);
        put(`toc-cut${i}.xar`, y);
      } else if (kind === 7) {
        put(`toc-declared${i}.xar`, buildXar(files(), { tocSizeOverride: rng.pick([0, 1, 2 ** 40]) }));
      } else {
        const fs = files();
        put(`past-end${i}.xar`, buildXar(fs, { tocTemplate: `<xar><toc><file><data><offset>999999</offset><length>9</length><size>9</size><encoding style="application/octet-stream"/></data></file>{{FILES}}</toc></xar>` }));
      }
    }
    // Nesting: XAR in ZIP and gzip, ZIP in XAR.
    for (let i = 0; i < 4; i++) {
      const x = buildXar(files());
      put(`inzip${i}.zip`, buildZip([{ name: 'in.xar', data: x, method: 8, compressed: deflateRawSync(x) }]).bytes);
      put(`ingz${i}.xar.gz`, gzipSync(buildXar(files())));
      const p = payload();
      const zip = buildZip([{ name: 'p.bin', data: p, method: 8, compressed: deflateRawSync(p) }]).bytes;
      put(`zipin${i}.xar`, buildXar([{ name: 'z.zip', data: zip, encoding: rng.pick(ENCODINGS) }]));
    }
    // A zlib extent too damaged to inflate, between good ones.
    const good = payload();
    const bad = Uint8Array.from(encodeXarData(payload(), 'gzip'));
    bad[2] = bad[2]! ^ 0xff;
    put('damaged-extent.xar', buildXar([{ name: 'bad', data: new Uint8Array(9), encoding: 'gzip', archived: bad }, { name: 'good', data: good, encoding: 'gzip' }]));

    await compareLayers(t, dir, hashes, [[], ['--allmatch'], ['-a'], ['--max-filesize=500', '--alert-exceeds-max'], ['--max-filesize=1000', '--allmatch'], ['--max-filesize=1000', '--alert-exceeds-max']]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
