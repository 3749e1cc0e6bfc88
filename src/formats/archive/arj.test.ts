/**
 * Tests for the ARJ reader: archives made by `arj a -m0..4` (skipped when arj is absent) decoded
 * byte for byte, garbled members skipped, the file-size limit and what follows it, damaged and
 * cut archives as ClamAV reads them, an archive after a stub (ARJSFX), truncation and mutation.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { arjMembers } from './arj.js';
import { fuzz, fuzzContext, toolExists, wordText } from './fuzz-check.js';
import { isChild, isLimited, type UnpackItem } from '../unpack.js';

const hasArj = toolExists('arj');
const skip = hasArj ? false : 'arj is not installed';
const ctx = fuzzContext(1 << 22);

const text = wordText;

const FILES: Record<string, Buffer> = {
  'small.txt': Buffer.from('a small payload\n'),
  'sub/text.txt': text(70000, 1),
  'sub/random.bin': Buffer.from(Array.from({ length: 6000 }, (_, i) => (i * 7919 + (i >> 3) * 31) & 0xff)),
};

function build(args: string[], files = FILES): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-arj-'));
  for (const [name, data] of Object.entries(files)) {
    mkdirSync(join(dir, 'src', name, '..'), { recursive: true });
    writeFileSync(join(dir, 'src', name), data);
  }
  execFileSync('arj', ['a', ...args, join(dir, 'out.arj'), ...Object.keys(files)], { cwd: join(dir, 'src'), stdio: 'ignore' });
  const bytes = new Uint8Array(readFileSync(join(dir, 'out.arj')));
  rmSync(dir, { recursive: true, force: true });
  return bytes;
}

const contents = (items: UnpackItem[]): [string, Buffer][] => items.filter(isChild).map((c) => [c.name, Buffer.from(c.data)]);

test('arj: every method decodes to the stored files', { skip }, () => {
  for (const m of ['0', '1', '2', '3', '4']) {
    const got = contents([...arjMembers(build([`-m${m}`]), ctx)]);
    assert.deepEqual(got.map(([n]) => n), Object.keys(FILES), `-m${m}`);
    for (const [name, data] of got) assert.ok(data.equals(FILES[name]!), `-m${m} ${name}`);
  }
});

test('arj: garbled members are skipped, the others read', { skip }, () => {
  const got = contents([...arjMembers(build(['-m1', '-gsecret']), ctx)]);
  assert.equal(got.length, 0);
});

test('arj: a member over the file-size limit is reported and ends the archive', { skip }, () => {
  const items = [...arjMembers(build(['-m1']), fuzzContext(50000))];
  assert.deepEqual(items.map((i) => ['name' in i ? i.name : '', isLimited(i) ? i.limit : 'data']), [['small.txt', 'data'], ['sub/text.txt', 'MaxFileSize']]);
});

test('arj: an archive cut inside LZH data keeps whole 26624-byte windows; a cut stored member keeps its bytes', { skip }, () => {
  const packed = build(['-m1']);
  const full = contents([...arjMembers(packed, ctx)]);
  const textAt = Buffer.from(packed).indexOf('sub/text.txt');
  // Cut at 80% of the big member's data (its compressed size is at 12 in the fixed header).
  const header = Buffer.from(packed).lastIndexOf(Buffer.from([0x60, 0xea]), textAt);
  const compressed = Buffer.from(packed).readUInt32LE(header + 4 + 12);
  const got = contents([...arjMembers(packed.subarray(0, textAt + Math.floor(compressed * 0.8)), ctx)]);
  assert.equal(got.length, 2);
  assert.ok(got[1]![1].length >= 26624 && got[1]![1].length % 26624 === 0, `${got[1]![1].length}`);
  assert.ok(got[1]![1].equals(full[1]![1].subarray(0, got[1]![1].length)));
  const stored = build(['-m0']);
  const at = Buffer.from(stored).indexOf('sub/text.txt');
  const cut = contents([...arjMembers(stored.subarray(0, at + 5000), ctx)]);
  assert.equal(cut.length, 2);
  assert.ok(cut[1]![1].length > 4000 && cut[1]![1].equals(FILES['sub/text.txt']!.subarray(0, cut[1]![1].length)));
});

test('arj: damaged headers stop the archive where ClamAV stops', { skip }, () => {
  const b = Uint8Array.from(build(['-m0']));
  // A broken main header mark: nothing.
  const noMain = Uint8Array.from(b);
  noMain[1] = 0;
  assert.equal([...arjMembers(noMain, ctx)].length, 0);
  // The second member's mark damaged: only the first.
  const second = Buffer.from(b).indexOf(Buffer.from([0x60, 0xea]), Buffer.from(b).indexOf('small.txt'));
  const bad = Uint8Array.from(b);
  bad[second] = 0x61;
  assert.deepEqual(contents([...arjMembers(bad, ctx)]).map(([n]) => n), ['small.txt']);
  // A first-header size below 30 in the second member: the same.
  const short = Uint8Array.from(b);
  short[second + 4] = 20;
  assert.deepEqual(contents([...arjMembers(short, ctx)]).map(([n]) => n), ['small.txt']);
  // An unknown method: an empty member, and the next header is looked for at its data.
  const method = Uint8Array.from(b);
  method[second + 4 + 5] = 9;
  const items = [...arjMembers(method, ctx)];
  assert.deepEqual(contents(items).map(([n, d]) => [n, d.length]), [['small.txt', 16], ['sub/text.txt', 0]]);
});

test('arj: an archive after a stub is read from its offset (ARJSFX)', { skip }, () => {
  const b = build(['-m2']);
  const sfx = new Uint8Array(b.length + 3000);
  sfx.set(b, 3000);
  assert.deepEqual(contents([...arjMembers(sfx, ctx, 3000)]).map(([n]) => n), Object.keys(FILES));
  assert.equal([...arjMembers(sfx, ctx)].length, 0);
});

test('arj: truncation at many points and 320 random mutations per method neither throw nor hang', { skip }, () => {
  let runs = 0;
  const files = { 'a.txt': text(9000, 5), 'b.txt': text(3000, 6) };
  for (const m of ['0', '1', '4']) {
    const b = build([`-m${m}`], files);
    runs += fuzz((x, c) => arjMembers(x, c), b, 300 + Number(m), 200, 320, [0, 200]);
  }
  assert.ok(runs > 1500);
});

/** The headers of an ARJ archive re-serialised through `edit` (which sees each header's parts). */
interface ArjHeader { fixed: Buffer; strings: Buffer; exts: Buffer[]; data: Buffer }
function rewrite(archive: Uint8Array, edit: (h: ArjHeader, index: number) => void): Uint8Array {
  const b = Buffer.from(archive);
  const out: Buffer[] = [];
  let pos = 0;
  for (let index = 0; pos + 4 <= b.length; index++) {
    const size = b.readUInt16LE(pos + 2);
    if (size === 0) { out.push(b.subarray(pos)); break; }
    const start = pos + 4;
    const first = b[start]!;
    const h: ArjHeader = { fixed: Buffer.from(b.subarray(start, start + first)), strings: Buffer.from(b.subarray(start + first, start + size)), exts: [], data: Buffer.alloc(0) };
    pos = start + size + 4;
    for (let ext = b.readUInt16LE(pos); ext !== 0; ext = b.readUInt16LE(pos)) {
      h.exts.push(Buffer.from(b.subarray(pos + 2, pos + 2 + ext)));
      pos += 2 + ext + 4;
    }
    pos += 2;
    const comp = index === 0 ? 0 : h.fixed.readUInt32LE(12);
    h.data = Buffer.from(b.subarray(pos, pos + comp));
    pos += comp;
    edit(h, index);
    const head = Buffer.concat([h.fixed, h.strings]);
    const size16 = Buffer.alloc(2);
    size16.writeUInt16LE(head.length);
    const exts = h.exts.flatMap((e) => { const s = Buffer.alloc(2); s.writeUInt16LE(e.length); return [s, e, Buffer.alloc(4)]; });
    out.push(Buffer.from([0x60, 0xea]), size16, head, Buffer.alloc(4), ...exts, Buffer.alloc(2), h.data);
  }
  return new Uint8Array(Buffer.concat(out));
}

test('arj: extended headers, a longer fixed header and the multi-volume flag are passed over', { skip }, () => {
  const plain = build(['-m1']);
  // The rewrite alone changes nothing.
  assert.deepEqual(contents([...arjMembers(rewrite(plain, () => {}), ctx)]).map(([n]) => n), Object.keys(FILES));
  const edited = rewrite(plain, (h, i) => {
    h.exts.push(Buffer.from(`extended header ${i}`), Buffer.alloc(300, i));
    // Bytes after the fixed part (a multi-volume member's start position), counted in its size.
    h.fixed = Buffer.concat([h.fixed, Buffer.from([1, 2, 3, 4])]);
    h.fixed[0] = h.fixed.length;
    h.fixed[4] = h.fixed[4]! | 0x04; // "continued on the next volume"
  });
  const got = contents([...arjMembers(edited, ctx)]);
  assert.deepEqual(got.map(([n]) => n), Object.keys(FILES));
  for (const [name, data] of got) assert.ok(data.equals(FILES[name]!), name);
});
