/**
 * Tests for the LHA reader: archives made by `lha` (jLHA; `-lh5-`, `-lh6-`, `-lh7-`, `-lh0-`,
 * `-lhd-` at header levels 0, 1, 2; skipped when absent) decoded byte for byte, and archives
 * built here for what the packer does not write: `-lh1-`, `-lzs-`, `-lz5-`, `-pm0-`, level 3 headers,
 * extension headers with a CRC, damaged checksums and lengths, members cut short or corrupt, the
 * file-size limit, truncation and random mutation.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lhaMembers } from './lha.js';
import { entry, lh1, lz5, lzs } from './lha-build.js';
import { fuzz, fuzzContext, toolExists, wordText } from './fuzz-check.js';
import { isChild, isLimited, type UnpackItem } from '../unpack.js';

const hasLha = toolExists('lha');
const skip = hasLha ? false : 'lha (jlha) is not installed';
const ctx = fuzzContext(1 << 22);

const text = wordText;

const FILES: Record<string, Buffer> = {
  'small.txt': Buffer.from('a small payload that is not compressed\n'),
  'sub/text.txt': text(90000, 1),
  'sub/random.bin': Buffer.from(Array.from({ length: 6000 }, (_, i) => (i * 7919 + (i >> 3) * 31) & 0xff)),
};

/** `lha c<level><method>` over FILES plus the directory `sub`. */
function build(level: number, method: string, files = FILES): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-lha-'));
  for (const [name, data] of Object.entries(files)) {
    mkdirSync(join(dir, 'src', name, '..'), { recursive: true });
    writeFileSync(join(dir, 'src', name), data);
  }
  execFileSync('lha', [`c${level}${method}`, join(dir, 'out.lzh'), ...Object.keys(files), 'sub'], { cwd: join(dir, 'src'), stdio: 'ignore' });
  const bytes = new Uint8Array(readFileSync(join(dir, 'out.lzh')));
  rmSync(dir, { recursive: true, force: true });
  return bytes;
}

const contents = (items: UnpackItem[]): [string, Buffer][] => items.filter(isChild).map((c) => [c.name, Buffer.from(c.data)]);

test('lha: jLHA archives of every method and header level decode to the stored files', { skip }, () => {
  for (const method of ['o5', 'o6', 'o7', 'z']) {
    for (const level of [0, 1, 2]) {
      const got = contents([...lhaMembers(build(level, method), ctx)]);
      // The directory adds its files again, in the order the file system lists them.
      assert.deepEqual(got.map(([n]) => n).slice(0, 3), Object.keys(FILES), `${method} level ${level}`);
      assert.deepEqual(got.map(([n]) => n).slice(3).sort(), ['sub/random.bin', 'sub/text.txt']);
      for (const [name, data] of got) assert.ok(data.equals(FILES[name]!), `${method} level ${level} ${name}`);
    }
  }
});

const end = Uint8Array.of(0);
const cat = (...parts: Uint8Array[]): Uint8Array => Uint8Array.from(Buffer.concat(parts));

test('lha: -lz5-, -lzs-, -lh1-, -lh0-, -pm0-, -lz4- at header levels 0 to 3, with paths and header CRCs', () => {
  const data = text(20000, 7);
  for (const level of [0, 1, 2, 3] as const) {
    const archive = cat(
      entry({ method: '-lz5-', name: 'five.txt', packed: lz5(data), orig: data.length, level, ...(level > 0 ? { dir: 'one/two' } : {}) }),
      entry({ method: '-lzs-', name: 'ess.txt', packed: lzs(data), orig: data.length, level, ...(level > 0 ? { commonCrc: true } : {}) }),
      entry({ method: '-lh1-', name: 'one.txt', packed: lh1(data), orig: data.length, level }),
      entry({ method: '-lh0-', name: 'stored.txt', packed: data.subarray(0, 500), orig: 500, level }),
      entry({ method: '-pm0-', name: 'pm.txt', packed: data.subarray(0, 300), orig: 300, level }),
      entry({ method: '-lz4-', name: 'lz4.txt', packed: data.subarray(0, 200), orig: 200, level }),
      end,
    );
    const got = contents([...lhaMembers(archive, ctx)]);
    assert.deepEqual(got.map(([n]) => n), [level > 0 ? 'one/two/five.txt' : 'five.txt', 'ess.txt', 'one.txt', 'stored.txt', 'pm.txt', 'lz4.txt'], `level ${level}`);
    assert.ok(got[0]![1].equals(data), `lz5 level ${level}`);
    assert.ok(got[1]![1].equals(data), `lzs level ${level}`);
    assert.ok(got[2]![1].equals(data), `lh1 level ${level}`);
    assert.ok(got[3]![1].equals(data.subarray(0, 500)));
  }
});

test('lha: -lh1- past the rebuild of the adaptive tree (over 32768 symbols)', () => {
  const data = Buffer.concat([text(30000, 21), Buffer.from(Array.from({ length: 40000 }, (_, i) => (i * 131 + (i >> 5)) & 0xff))]);
  const got = contents([...lhaMembers(cat(entry({ method: '-lh1-', name: 'long.bin', packed: lh1(data), orig: data.length, level: 0 }), end), ctx)]);
  assert.equal(got.length, 1);
  assert.ok(got[0]![1].equals(data));
});

test('lha: unsupported methods and directories give nothing; the next member is read', () => {
  const data = Buffer.from('the payload after them\n');
  const archive = cat(
    entry({ method: '-lhx-', name: 'x', packed: new Uint8Array(40), orig: 100, level: 1 }),
    entry({ method: '-pm2-', name: 'p', packed: new Uint8Array(40), orig: 100, level: 2 }),
    entry({ method: '-lhd-', name: 'dir', packed: new Uint8Array(0), orig: 0, level: 2 }),
    entry({ method: '-lh0-', name: 'after.txt', packed: data, orig: data.length, level: 0 }),
  );
  assert.deepEqual(contents([...lhaMembers(archive, ctx)]).map(([n]) => n), ['after.txt']);
});

test('lha: a bad header ends the archive; the first bad header means nothing', () => {
  const a = entry({ method: '-lh0-', name: 'a.txt', packed: Buffer.from('first payload'), orig: 13, level: 0 });
  const b = entry({ method: '-lh0-', name: 'b.txt', packed: Buffer.from('second payload'), orig: 14, level: 1, commonCrc: true });
  assert.equal(contents([...lhaMembers(cat(a, b), ctx)]).length, 2);
  const badSum = Uint8Array.from(a);
  badSum[1] = badSum[1]! ^ 1;
  assert.equal([...lhaMembers(cat(badSum, b), ctx)].length, 0);
  const badCrc = Uint8Array.from(b);
  badCrc[badCrc.length - 14 - 6] = badCrc[badCrc.length - 14 - 6]! ^ 0x40; // inside the CRC extension header
  assert.deepEqual(contents([...lhaMembers(cat(a, badCrc), ctx)]).map(([n]) => n), ['a.txt']);
  const level4 = Uint8Array.from(b);
  level4[20] = 4;
  assert.deepEqual(contents([...lhaMembers(cat(a, level4), ctx)]).map(([n]) => n), ['a.txt']);
});

test('lha: a member cut short or with a broken code gives nothing; the next member is still read', { skip }, () => {
  const packed = build(2, 'o5', { 'big.txt': text(60000, 3), 'after.txt': Buffer.from('a payload after the damage\n') });
  assert.deepEqual(contents([...lhaMembers(packed, ctx)]).map(([n]) => n), ['big.txt', 'after.txt']);
  // Garbage at the start of the big member's data: its code tables fail, the next member is read.
  const bad = Uint8Array.from(packed);
  const dataAt = Buffer.from(packed).indexOf('-lh5-') - 2 + (packed[0]! | (packed[1]! << 8));
  bad.fill(0xff, dataAt, dataAt + 8);
  assert.deepEqual(contents([...lhaMembers(bad, ctx)]).map(([n]) => n), ['after.txt']);
  // Cut inside the big member: nothing at all.
  assert.equal(contents([...lhaMembers(packed.subarray(0, dataAt + 3000), ctx)]).length, 0);
});

test('lha: a member over the file-size limit is reported and skipped', () => {
  const data = text(5000, 9);
  const archive = cat(
    entry({ method: '-lz5-', name: 'big.txt', packed: lz5(data), orig: data.length, level: 2 }),
    entry({ method: '-lh0-', name: 'small.txt', packed: data.subarray(0, 100), orig: 100, level: 2 }),
  );
  const items = [...lhaMembers(archive, fuzzContext(1000))];
  assert.deepEqual(items.map((i) => ['name' in i ? i.name : '', isLimited(i) ? i.limit : 'data']), [['big.txt', 'MaxFileSize'], ['small.txt', 'data']]);
});

test('lha: truncation at many points and 320 random mutations per method neither throw nor hang', () => {
  let runs = 0;
  const data = text(6000, 11);
  const coded = cat(
    entry({ method: '-lh1-', name: 'one.txt', packed: lh1(data), orig: data.length, level: 2 }),
    entry({ method: '-lz5-', name: 'five.txt', packed: lz5(data), orig: data.length, level: 1, dir: 'd' }),
    entry({ method: '-lzs-', name: 'ess.txt', packed: lzs(data), orig: data.length, level: 3, commonCrc: true }),
    end,
  );
  runs += fuzz(lhaMembers, coded, 501, 200, 320, [0, 100]);
  if (hasLha) {
    for (const [i, method] of ['o5', 'o7'].entries()) {
      runs += fuzz(lhaMembers, build(i, method, { 'a.txt': text(9000, 5), 'b.bin': FILES['sub/random.bin']! }), 600 + i, 200, 320, [0, 160]);
    }
  }
  assert.ok(runs > 500);
});
