/**
 * InstallShield setup data in a PE's overlay and Symbian 9 packages: `vigil scan` against
 * `clamscan` on seeded samples built by code (no tool makes these formats here) — PEs whose
 * overlay holds InstallShield records (plain files, `data1.hdr` with `dataN.cab` cabinets of
 * chunked raw deflate streams), some with ClamAV's quirks (a last record with nothing after it,
 * repeated headers and cabinets, external and duplicate descriptors, odd size strings), some cut
 * or damaged (in the records, the header or a cabinet's streams), and SIS 9 packages with stored
 * and zlib-compressed files (ClamAV 1.4 extracts nothing from these: its walk starts on the UIDs,
 * so only their raw bytes match) — the same `FOUND` lines and exit code by default, with `--allmatch`,
 * with `-a` (clamscan's chain shows the record names ClamAV reports as metadata), under a small
 * MaxFileSize with `--alert-exceeds-max` (cabinet files inflating past it are cut and scanned),
 * with `.cdb` signatures on the record names, sizes and positions, and with MaxFiles.
 * One sample is a PE linked by i686-w64-mingw32-gcc (left out when that compiler is absent).
 * Not `-a` with `--allmatch`: clamscan then prints the chain with the last detection of a file,
 * vigil with the first (a matter of the engine, for every container).
 * Needs clamscan 1.4 (skipped with a message without it).
 */
import { test } from 'node:test';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Prng } from '../helpers/prng.js';
import { CLAMSCAN_SKIP } from '../helpers/clamscan-run.js';
import { compareLayers, MARKS } from './layers-diff.js';
import { buildIsCabinets, buildIsOverlay, buildSetupPe, buildSis, buildSis9, type IsCabFile, type IsRecord } from '../../src/formats/installer/fixtures.js';

const SEED = process.env['VIGIL_DIFF_SEED'] ?? '20261129';
const NAMES = ['setup.ini', 'readme.txt', 'license.rtf', 'ISSetup.dll', '_setup.dll', 'layout.bin', 'setup.inx', '0x0409.ini'];

function samples(): { dir: string; hashes: string[] } {
  const rng = new Prng(`installer2-${SEED}`);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-clam-is2-'));
  const data = join(dir, 'data');
  mkdirSync(data);
  const hashes: string[] = [];
  let hashNo = 0;
  const hashed = (body: Uint8Array, p: number): void => {
    if (rng.chance(p)) hashes.push(`${createHash('md5').update(body).digest('hex')}:${body.length}:Inner.Hash.${hashNo++}`);
  };
  // Text (a mark at most once: ClamAV reports every match of a body signature with allmatch).
  const payload = (): Buffer => {
    const parts: Buffer[] = [rng.chance(0.7) ? Buffer.from(rng.words(rng.int(3, 300)), 'latin1') : Buffer.from(rng.bytes(rng.int(1, 1500)))];
    if (rng.chance(0.6)) parts.push(Buffer.from(` ${rng.pick(MARKS)} `, 'latin1'));
    parts.push(Buffer.from(rng.words(rng.int(0, 80)), 'latin1'));
    return Buffer.concat(parts);
  };
  // A large file that deflates well: it passes the small MaxFileSize below once inflated.
  const large = (): Buffer => {
    const line = `${rng.words(rng.int(3, 10))}\n`;
    const body = Buffer.from(line.repeat(Math.ceil(rng.int(30000, 160000) / line.length)), 'latin1');
    const mark = Buffer.from(`${rng.pick(MARKS)}\n`, 'latin1');
    return rng.chance(0.5) ? Buffer.concat([mark, body]) : Buffer.concat([body, mark]);
  };
  for (let f = 0; f < 48; f++) {
    const records: IsRecord[] = [];
    for (let n = rng.int(0, 3); n > 0; n--) {
      const body = payload();
      hashed(body, 0.4);
      records.push({ name: rng.chance(0.7) ? rng.pick(NAMES) : `${rng.word(3, 9)}.${rng.word(2, 3)}`, data: body });
    }
    if (rng.chance(0.85)) {
      const files: IsCabFile[] = [];
      for (let n = rng.int(1, 4); n > 0; n--) {
        const body = rng.chance(0.25) ? large() : payload();
        hashed(body, 0.5);
        const kind = rng.int(0, 19);
        files.push({
          name: `${rng.word(3, 8)}.${rng.pick(['exe', 'dll', 'txt'])}`,
          dir: rng.pick(['INSTALLDIR', 'SUPPORTDIR', 'WINSYSDIR']),
          data: body,
          cab: rng.chance(0.7) ? 1 : 2,
          flags: kind === 0 ? 0 : kind === 1 ? 8 : 4,
          dup: kind === 2 ? 1 : kind === 3 ? 2 : 0,
          chunk: rng.pick([0x400, 0x1000, 0x8000]),
        });
      }
      const { hdr, cabs } = buildIsCabinets(files);
      const parts: IsRecord[] = [];
      if (!rng.chance(0.1)) parts.push({ name: rng.pick(['data1.hdr', 'DATA1.HDR', 'Data1.hdr']), data: hdr });
      for (const [n, cab] of cabs) {
        const c = Buffer.from(cab);
        // A damaged cabinet: a byte of its streams changed (an inflate error drops that file).
        if (rng.chance(0.15) && c.length > 8) { const at = rng.int(6, c.length - 1); c[at] = c[at]! ^ (1 << rng.int(0, 7)); }
        if (!rng.chance(0.08)) parts.push({ name: rng.pick([`data${n}.cab`, `DATA${n}.CAB`]), data: c });
      }
      if (rng.chance(0.1)) parts.push({ name: 'data1.hdr', data: payload() }); // a second header: a plain file
      if (rng.chance(0.1)) parts.push({ name: `data${rng.int(3, 4)}.cab`, data: payload() }); // a cabinet no file uses
      // The records in some order among the plain ones.
      for (const p of parts) records.splice(rng.int(0, records.length), 0, p);
    }
    // Size strings ClamAV's strtol takes, and some it does not.
    for (const r of records) {
      if (rng.chance(0.06)) r.size = rng.pick([` ${r.data.length}`, `+${r.data.length}`, `00${r.data.length}`, `${r.data.length}x`, `${r.data.length + 1}`, '']);
    }
    let overlay = Buffer.from(buildIsOverlay(records));
    // The last record is read only when something follows it.
    if (rng.chance(0.6)) overlay = Buffer.concat([overlay, Buffer.from(rng.bytes(rng.int(1, 40)))]);
    let bytes = Buffer.from(buildSetupPe(overlay));
    const start = bytes.length - overlay.length;
    if (rng.chance(0.12) && overlay.length > 2) bytes = bytes.subarray(0, rng.int(start + 1, bytes.length - 1));
    else if (rng.chance(0.12)) { const at = rng.int(start, bytes.length - 1); bytes[at] = bytes[at]! ^ (1 << rng.int(0, 7)); }
    writeFileSync(join(data, `i${String(f).padStart(2, '0')}.exe`), bytes);
  }
  // Symbian 9 packages: typed SIS by ClamAV only with the old format's UID in the checksum word.
  for (let f = 0; f < 12; f++) {
    const units = [];
    for (let u = rng.int(1, 2); u > 0; u--) {
      const files = [];
      for (let n = rng.int(1, 3); n > 0; n--) {
        const body = payload();
        hashed(body, 0.6);
        files.push({ data: body, stored: rng.chance(0.4) });
      }
      units.push(files);
    }
    writeFileSync(join(data, `s${String(f).padStart(2, '0')}.sis`), buildSis9(units, { checksums: rng.chance(0.5), clamavTyped: f % 4 !== 3 }));
  }
  writeFileSync(join(dir, 'meta.cdb'), [
    'Cdb.IsIni:CL_TYPE_MSEXE:*:setup\\.ini:*:*:*:*:*:*',
    'Cdb.IsHdr:CL_TYPE_MSEXE:*:data1\\.hdr:*:*:*:*:*:*',
    'Cdb.IsFirstDll:CL_TYPE_MSEXE:*:.*\\.dll:*:*:*:0:*:*',
    'Cdb.IsSmall:CL_TYPE_MSEXE:*:.*\\.txt:0-200:*:*:*:*:*',
    'Cdb.IsThird:CL_TYPE_ANY:*:*:*:*:*:2:*:*',
    '',
  ].join('\n'));
  return { dir, hashes };
}

test(`InstallShield overlays and SIS 9 packages: vigil scan prints clamscan's lines (seed ${SEED})`, { skip: CLAMSCAN_SKIP }, async (t) => {
  const { dir, hashes } = samples();
  const cdb = join(dir, 'meta.cdb');
  await compareLayers(t, dir, hashes, [
    [],
    ['--allmatch'],
    ['-a'],
    ['--max-filesize=40000', '--alert-exceeds-max'],
    ['--allmatch', '--max-filesize=40000', '--alert-exceeds-max'],
    ['-d', cdb],
    ['-a', '-d', cdb],
    ['--allmatch', '-d', cdb],
    ['--allmatch', '--max-files=3'],
    ['--allmatch', '--max-files=4', '--alert-exceeds-max'],
  ]);
});

/**
 * One sample per quirk of ClamAV's reading, every file carrying its own hash signature (so the
 * `--allmatch` lines show exactly which files were given) and most a mark.
 */
function quirks(): { dir: string; hashes: string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-clam-is2q-'));
  const data = join(dir, 'data');
  mkdirSync(data);
  const hashes: string[] = [];
  let n = 0;
  const file = (tag: string, repeat = 1): Buffer => {
    const body = Buffer.from(`${`${tag} file body number ${n} `.repeat(repeat)}${MARKS[n % MARKS.length]} end\n`, 'latin1');
    hashes.push(`${createHash('md5').update(body).digest('hex')}:${body.length}:Quirk.${tag}.${n++}`);
    return body;
  };
  const tail = Buffer.from('trailing bytes');
  const pe = (name: string, records: IsRecord[], opts: { oneSection?: boolean; swapSections?: boolean; noTail?: boolean } = {}): void => {
    writeFileSync(join(data, `${name}.exe`), buildSetupPe(Buffer.concat([buildIsOverlay(records), opts.noTail ? Buffer.alloc(0) : tail]), opts));
  };
  const cabset = (files: IsCabFile[]): { hdr: Uint8Array; cabs: Map<number, Uint8Array> } => buildIsCabinets(files);
  const plain = (): IsRecord[] => [{ name: 'setup.ini', data: file('ini') }, { name: 'readme.txt', data: file('readme') }];
  pe('q01-plain', plain());
  pe('q02-no-tail', plain(), { noTail: true });
  pe('q03-one-section', plain(), { oneSection: true });
  pe('q04-swapped-sections', plain(), { swapSections: true });
  {
    const { hdr, cabs } = cabset([{ name: 'a', data: file('cab-a') }, { name: 'b', data: file('cab-b'), cab: 2 }, { name: 'c', data: file('dup'), dup: 1 }, { name: 'd', data: file('ext'), flags: 0 }]);
    pe('q05-all-out', [{ name: 'data1.hdr', data: hdr }, { name: 'data1.cab', data: cabs.get(1)! }, { name: 'data2.cab', data: cabs.get(2)! }]);
    pe('q06-cab-missing', [{ name: 'data1.hdr', data: hdr }, { name: 'data2.cab', data: cabs.get(2)! }]);
    pe('q07-no-header', [{ name: 'data1.cab', data: cabs.get(1)! }, { name: 'data2.cab', data: cabs.get(2)! }]);
    const bad = Buffer.from(hdr);
    bad[1] = 0x41;
    pe('q08-bad-magic', [{ name: 'data1.hdr', data: bad }, { name: 'data1.cab', data: cabs.get(1)! }]);
    const many = Buffer.from(hdr);
    many.writeUInt32LE(200000, 0x200 + 40);
    pe('q09-many-descriptors', [{ name: 'data1.hdr', data: many }, { name: 'data1.cab', data: cabs.get(1)! }, { name: 'data2.cab', data: cabs.get(2)! }]);
  }
  {
    const { hdr, cabs } = cabset([{ name: 'one', data: file('in-two'), cab: 2 }, { name: 'two', data: file('in-one'), cab: 1 }]);
    pe('q10-repeat-check', [{ name: 'data2.cab', data: cabs.get(2)! }, { name: 'data1.cab', data: cabs.get(1)! }, { name: 'data3.cab', data: file('third-cab') }, { name: 'data1.hdr', data: hdr }]);
    pe('q11-second-header', [{ name: 'data1.hdr', data: hdr }, { name: 'DATA1.HDR', data: file('second-hdr') }, { name: 'Data1.Cab', data: cabs.get(1)! }, { name: 'data2.cab', data: cabs.get(2)! }]);
    pe('q12-odd-names', [{ name: 'data 2.cab', data: cabs.get(2)! }, { name: 'data+1.cab', data: cabs.get(1)! }, { name: 'data1.hdr', data: hdr }, { name: 'data0.cab', data: file('cab-zero') }, { name: 'data70000.cab', data: file('cab-big-number') }]);
  }
  {
    // Large files cut at MaxFileSize (40000 in the modes below); one damaged past the cut, one before it.
    const big = (tag: string): Buffer => file(tag, 4000);
    const { hdr, cabs } = cabset([{ name: 'big1', data: big('big-clean'), chunk: 0x8000 }, { name: 'big2', data: big('big-late-damage'), cab: 2, chunk: 0x400 }, { name: 'big3', data: big('big-early-damage'), cab: 3, chunk: 0x400 }]);
    // An invalid block type at the start of a chunk's stream: big2's last chunk, big3's first.
    const chunks = (cab: Uint8Array): number[] => {
      const at: number[] = [];
      for (let o = 4; o + 2 <= cab.length; o += 2 + (cab[o]! | (cab[o + 1]! << 8))) at.push(o + 2);
      return at;
    };
    const cab2 = Buffer.from(cabs.get(2)!), cab3 = Buffer.from(cabs.get(3)!);
    const late = chunks(cab2).at(-1)!, early = chunks(cab3)[0]!;
    cab2[late] = cab2[late]! | 0x06;
    cab3[early] = cab3[early]! | 0x06;
    pe('q13-cut', [{ name: 'data1.hdr', data: hdr }, { name: 'data1.cab', data: cabs.get(1)! }, { name: 'data2.cab', data: cab2 }]);
    pe('q14-cut-early-damage', [{ name: 'data1.hdr', data: hdr }, { name: 'data1.cab', data: cabs.get(1)! }, { name: 'data3.cab', data: cab3 }]);
  }
  writeFileSync(join(data, 'q15-sis9-typed.sis'), buildSis9([[{ data: file('sis-stored'), stored: true }, { data: file('sis-zlib') }]], { checksums: true }));
  writeFileSync(join(data, 'q16-sis9-untyped.sis'), buildSis9([[{ data: file('sis-stored2'), stored: true }]], { clamavTyped: false }));
  // A PE from a real linker (several sections, one of them without raw data) carrying the records.
  const work = mkdtempSync(join(tmpdir(), 'vigil-is2-cc-'));
  writeFileSync(join(work, 'm.c'), 'int main(void) { return 0; }\n');
  const cc = spawnSync('i686-w64-mingw32-gcc', ['-s', '-O2', '-o', join(work, 'm.exe'), join(work, 'm.c')], { encoding: 'utf8' });
  if (cc.status === 0) {
    const { hdr, cabs } = cabset([{ name: 'linked', data: file('linked-cab') }]);
    const records = [{ name: 'setup.ini', data: file('linked-ini') }, { name: 'data1.hdr', data: hdr }, { name: 'data1.cab', data: cabs.get(1)! }];
    writeFileSync(join(data, 'q18-mingw.exe'), Buffer.concat([readFileSync(join(work, 'm.exe')), buildIsOverlay(records), tail]));
  }
  // Old-format SIS: an incompressible file whose stored size tripled passes MaxFileSize while its
  // own size does not (a limit alerted, the file still extracted).
  const noise = Buffer.from(new Prng(`noise-${SEED}`).bytes(20000));
  writeFileSync(join(data, 'q17-sis-old-room.sis'), buildSis([{ name: 'c:\\sys\\bin\\noise.exe', data: Buffer.concat([noise, file('sis-old-noise')]) }]));
  return { dir, hashes };
}

test('InstallShield and SIS 9 quirks: vigil scan prints clamscan\'s lines', { skip: CLAMSCAN_SKIP }, async (t) => {
  const { dir, hashes } = quirks();
  await compareLayers(t, dir, hashes, [
    [], ['--allmatch'], ['-a'], ['--allmatch', '--max-filesize=40000', '--alert-exceeds-max'], ['--max-filesize=40000', '--alert-exceeds-max'],
    ['--allmatch', '--max-files=3'], ['--allmatch', '--max-files=2', '--alert-exceeds-max'], ['--allmatch', '--max-scansize=100000'],
  ]);
});
