import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deflateSync } from 'node:zlib';
import { buildCfb, ovbaCompress, vbaProjectStreams, type CfbStream } from './cfb-writer.js';
import { Ole2Reader, ole2Layers } from './ole2.js';
import { clamVbaInflate, codepageToUtf8, ole2LowerName, vbaNormalize } from './vba.js';
import { ole10Contents } from './ole10.js';
import { isAlert, isChild, isLimited, type UnpackContext, type UnpackItem } from '../unpack.js';
import { mulberry32 } from '../../../test/helpers/prng.js';

const ctx = (over: Partial<UnpackContext['options']> = {}, limits: Partial<UnpackContext['limits']> = {}): UnpackContext => ({
  limits: { maxFileSize: 100 * 1024 * 1024, maxFiles: 10000, maxScanSize: 400 * 1024 * 1024, ...limits },
  options: { heuristicAlerts: true, alertEncryptedArchive: false, alertEncryptedDoc: false, alertMacros: false, ...over },
});

const items = (b: Uint8Array, c = ctx()): UnpackItem[] => [...ole2Layers(b, c)];
const children = (b: Uint8Array, c = ctx()): Map<string, Buffer> => {
  const m = new Map<string, Buffer>();
  for (const it of items(b, c)) if (isChild(it)) m.set(it.name, Buffer.from(it.data));
  return m;
};
const bytes = (n: number, seed: number): Buffer => {
  const r = mulberry32(seed);
  return Buffer.from(Array.from({ length: n }, () => Math.floor(r() * 256)));
};

const SOURCE = 'Attribute VB_Name = "Module1"\r\nSub AutoOpen()\r\n  Shell   "Cmd.exe /c kestrel-plover-0001"\r\nEnd Sub\r\n';

test('v3 file: big and mini streams come out whole, named by storage path', () => {
  const streams: CfbStream[] = [
    { path: 'Big', data: bytes(10000, 1) },
    { path: 'Store/Inner/Small', data: bytes(100, 2) },
    { path: 'Store/Exact4096', data: bytes(4096, 3) },
    { path: 'Store/Under4096', data: bytes(4095, 4) },
  ];
  for (const shuffle of [undefined, mulberry32(7)]) {
    const got = children(buildCfb(streams, shuffle ? { shuffle } : {}));
    assert.equal(got.size, 4);
    for (const s of streams) assert.deepEqual(got.get(s.path), Buffer.from(s.data), s.path);
  }
});

test('DIFAT: a file whose FAT passes 109 sectors is read through the extra DIFAT sectors', () => {
  const big = bytes(7_400_000, 5);
  const f = buildCfb([{ path: 'Huge', data: big }, { path: 'Tail', data: bytes(5000, 6) }]);
  assert.ok(new DataView(f.buffer, f.byteOffset).getUint32(72, true) >= 1, 'the file has DIFAT sectors');
  const got = children(f);
  assert.deepEqual(got.get('Huge'), big);
  assert.equal(got.get('Tail')?.length, 5000);
});

test('v4 file: read as ClamAV reads it (512 bytes of each 4096-byte sector)', () => {
  // Up to 4 directory entries are in ClamAV's view of the first directory sector.
  const f = buildCfb([{ path: 'A', data: bytes(300, 8) }, { path: 'B', data: bytes(9000, 9) }], { version: 4 });
  const got = children(f);
  assert.deepEqual(got.get('A'), bytes(300, 8));
  assert.deepEqual(got.get('B'), bytes(9000, 9));
  // A fifth entry sits past ClamAV's view: ClamAV walks entry 4 in the next directory block (none).
  const more = buildCfb(['A', 'B', 'C', 'D', 'E', 'F'].map((n, k) => ({ path: n, data: bytes(100, k) })), { version: 4 });
  assert.ok(children(more).size < 6);
});

test('VBA project: dir stream read, module source listed as CL_TYPE_SCRIPT, macro heuristic when asked', () => {
  const f = buildCfb([{ path: 'WordDocument', data: bytes(600, 10) }, ...vbaProjectStreams('Macros/', [{ name: 'Module1', source: SOURCE, cacheSize: 333 }])]);
  const all = items(f, ctx({ alertMacros: true }));
  const script = all.find((i) => isChild(i) && i.type === 'CL_TYPE_SCRIPT');
  assert.ok(script && isChild(script));
  const text = Buffer.from(script.data).toString('latin1');
  assert.match(text, /^REM VBA project extracted from Microsoft Office document\n\nREM PROJECTSYSKIND: Windows 32 bit\n/);
  assert.match(text, /REM MODULEOFFSET: 0x0000014d/);
  assert.ok(text.includes('sub autoopen()\r\n shell "Cmd.exe /c kestrel-plover-0001"\r\nend sub'), text);
  assert.ok(all.some((i) => isAlert(i) && i.alert === 'Heuristics.OLE2.ContainsMacros.VBA'));
  assert.ok(!items(f).some(isAlert), 'no alert unless asked');
  // Streams of Macros/VBA are scanned once per storage level above them (root, Macros, VBA).
  assert.equal(all.filter((i) => isChild(i) && i.name === 'Macros/VBA/Module1').length, 3);
});

test('Excel _VBA_PROJECT_CUR and vbaProject.bin layouts', () => {
  for (const prefix of ['_VBA_PROJECT_CUR/', '']) {
    const f = buildCfb([{ path: 'Workbook', data: bytes(5000, 11) }, ...vbaProjectStreams(prefix, [{ name: 'Sheet1', source: SOURCE }, { name: 'Module2', source: 'Sub X()\r\nEnd Sub\r\n' }])]);
    const script = items(f).find((i) => isChild(i) && i.type === 'CL_TYPE_SCRIPT');
    assert.ok(script && isChild(script), prefix);
    const text = Buffer.from(script.data).toString('latin1');
    assert.ok(text.includes('kestrel-plover-0001') && text.includes('sub x()'));
  }
});

test('no VBA: an MSO stream (zlib after a 4-byte size) is inflated instead of scanned raw', () => {
  const inner = Buffer.from('inflated payload kestrel-plover-0001 '.repeat(20));
  const mso = Buffer.concat([Buffer.from([inner.length, 0, 0, 0]), deflateSync(inner)]);
  const got = children(buildCfb([{ path: 'ActiveMime', data: mso }]));
  assert.deepEqual(got.get('ActiveMime'), inner);
});

test('Ole10Native stream: the Package contents are scanned', () => {
  const payload = Buffer.from('MZ payload inside a package kestrel');
  const native = Buffer.concat([
    Buffer.from([2, 0]), Buffer.from('label.exe\0C:\\x\\label.exe\0', 'latin1'), Buffer.from([0, 0, 3, 0, 12, 0, 0, 0]),
    Buffer.from('C:\\t\\a.exe\0', 'latin1'), Buffer.from([payload.length, 0, 0, 0]), payload,
  ]);
  const stream = Buffer.concat([Buffer.from([native.length & 0xff, native.length >> 8, 0, 0]), native]);
  assert.deepEqual(Buffer.from(ole10Contents(stream)!), payload);
  const got = items(buildCfb([{ path: '\x01Ole10Native', data: stream }]));
  const found = got.find((i) => isChild(i) && Buffer.from(i.data).equals(payload));
  assert.ok(found, JSON.stringify(got.map((i) => ('name' in i ? i.name : i))));
});

test('loops: a FAT chain pointing back and a directory cycle end in bounded time', () => {
  const f = Buffer.from(buildCfb([{ path: 'Big', data: bytes(20000, 12) }, { path: 'Other', data: bytes(9000, 13) }]));
  const r = new Ole2Reader(f);
  // Make every FAT entry point at sector 0 (a loop for every chain).
  const fatSector = f.readUInt32LE(76);
  for (let k = 0; k < 128; k++) f.writeUInt32LE(0, 512 + fatSector * 512 + k * 4);
  const t0 = Date.now();
  items(f);
  // Directory: make the root's child point back at the root.
  const g = Buffer.from(buildCfb([{ path: 'A', data: bytes(5000, 14) }]));
  const dirAt = 512 + new Ole2Reader(g).propStart * 512;
  g.writeUInt32LE(0, dirAt + 128 + 68);
  g.writeUInt32LE(1, dirAt + 128 + 72);
  items(g);
  assert.ok(Date.now() - t0 < 2000);
  assert.ok(r.ok);
});

test('limits: a stream over MaxFileSize is reported, not given', () => {
  const got = items(buildCfb([{ path: 'Big', data: bytes(10000, 15) }, { path: 'Small', data: bytes(100, 16) }]), ctx({}, { maxFileSize: 5000 }));
  assert.ok(got.some((i) => isLimited(i) && i.name === 'Big' && i.limit === 'MaxFileSize'));
  assert.ok(got.some((i) => isChild(i) && i.name === 'Small'));
});

test('truncation at many points and random mutations: no throw, bounded time', () => {
  const f = buildCfb([
    { path: 'WordDocument', data: bytes(3000, 17) }, { path: 'Data', data: bytes(12000, 18) },
    ...vbaProjectStreams('Macros/', [{ name: 'Module1', source: SOURCE, cacheSize: 50 }]),
  ], { shuffle: mulberry32(3) });
  const t0 = Date.now();
  for (let cut = 0; cut < f.length; cut += 97) items(f.subarray(0, cut), ctx({ alertMacros: true }));
  const rnd = mulberry32(99);
  for (let round = 0; round < 400; round++) {
    const m = Buffer.from(f);
    const edits = 1 + Math.floor(rnd() * 8);
    for (let k = 0; k < edits; k++) {
      const at = rnd() < 0.5 ? Math.floor(rnd() * 600) : Math.floor(rnd() * m.length);
      m[at] = rnd() < 0.3 ? 0xff : Math.floor(rnd() * 256);
    }
    items(m, ctx({ alertMacros: true }));
  }
  for (const v of [3, 4] as const) {
    const g = buildCfb([{ path: 'S', data: bytes(5000, 19) }], { version: v });
    for (let round = 0; round < 100; round++) {
      const m = Buffer.from(g);
      m.writeUInt16LE(Math.floor(rnd() * 40), 30);
      m.writeUInt32LE(Math.floor(rnd() * 40), 32);
      items(m);
    }
  }
  assert.ok(Date.now() - t0 < 20000, `took ${Date.now() - t0} ms`);
});

test('VBA decompression: ClamAV-compatible on MS-OVBA data, fails on a cut token', () => {
  const src = Buffer.from('abcabcabc'.repeat(1000) + 'xyz'.repeat(2000));
  assert.deepEqual(Buffer.from(clamVbaInflate(ovbaCompress(src), 0, 1e9)!), src);
  const c = ovbaCompress(Buffer.from('aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'));
  assert.equal(clamVbaInflate(c.subarray(0, c.length - 1), 0, 1e9), undefined);
  assert.equal(clamVbaInflate(Uint8Array.of(1, 0, 0), 0, 1e9), undefined, 'nothing produced');
  // A bomb stops at the cap.
  assert.equal(clamVbaInflate(ovbaCompress(Buffer.alloc(100000, 0x41)), 0, 5000)!.length, 5000);
});

test('normalisation, code pages and entry names as ClamAV', () => {
  const b = Buffer.from('Dim  X As "Str  ING"\tThen _\r\nNext', 'latin1');
  assert.equal(Buffer.from(b.subarray(0, vbaNormalize(b))).toString('latin1'), 'dim x as "Str  ING" then next');
  assert.equal(codepageToUtf8(Uint8Array.of(0x41, 0x81), 1252), undefined);
  assert.equal(Buffer.from(codepageToUtf8(Uint8Array.of(0x41, 0xe9), 1252)!).toString(), 'Aé');
  assert.equal(codepageToUtf8(new Uint8Array(0), 1252), undefined);
  const name = (s: string): Uint8Array => Buffer.from(s + '\0', 'utf16le');
  assert.equal(ole2LowerName(name('_VBA_PROJECT'), 26), '_vba_project');
  assert.equal(ole2LowerName(name('\x01Ole10Native'), 26), '_1_ole10native');
  assert.equal(ole2LowerName(name('\x05SummaryInformation'), 40), '_5_summaryinformation');
});

test('older readers: the 97-2003 _VBA_PROJECT table, Word 6 macros, PowerPoint storages', async () => {
  const { legacyVbaProjectStream, word6Document, pptDocument } = await import('./cfb-writer.js');
  const { legacyVbaModules, wordMacros, pptStorages, unicodeName } = await import('./vba-legacy.js');
  const mods = [{ name: 'Module1', source: SOURCE, cacheSize: 77 }, { name: 'Other', source: 'Sub X()\r\nEnd Sub\r\n' }];
  assert.deepEqual(legacyVbaModules(legacyVbaProjectStream(mods), () => true), [{ name: 'module1', offset: 77 }, { name: 'other', offset: 0 }]);
  assert.equal(legacyVbaModules(legacyVbaProjectStream(mods), (n) => n !== 'other'), undefined, 'a module stream that is missing ends the table');
  assert.equal(legacyVbaModules(Uint8Array.of(0xcc, 0x61, 0xff, 0xff, 0, 0, 0), () => true), undefined);
  assert.equal(unicodeName(Buffer.from('AB\u00e9', 'utf16le'), 6, false), 'ab_aaaaa_');
  // Through the OLE2 reader: module code typed as OLE2 (raw, upper case kept), listing as script.
  const f = buildCfb([{ path: 'WordDocument', data: bytes(600, 20) }, ...vbaProjectStreams('Macros/', mods, undefined, true)]);
  const all = items(f, ctx({ alertMacros: true }));
  const code = all.filter((i) => isChild(i) && i.type === 'CL_TYPE_MSOLE2');
  assert.equal(code.length, 2);
  assert.ok(Buffer.from((code[0] as { data: Uint8Array }).data).toString('latin1').includes('Shell   "Cmd.exe'));
  assert.equal(all.filter(isAlert).length, 1, 'the macro heuristic is given once');

  const w = word6Document([{ code: Buffer.from('first macro'), key: 0x5a }, { code: Buffer.from('second'), key: 0 }]);
  assert.deepEqual(wordMacros(w).map((m) => Buffer.from(m).toString()), ['first macro', 'second']);
  assert.ok(!Buffer.from(w).includes('first macro'), 'the stream holds the macro encoded');
  assert.deepEqual(wordMacros(new Uint8Array(100)), []);

  const inner = buildCfb([{ path: 'X', data: bytes(700, 21) }]);
  const { deflateSync: deflate } = await import('node:zlib');
  const ppt = pptDocument([inner, inner], (b) => deflate(b));
  const got = pptStorages(ppt, 1e9)!;
  assert.equal(got.length, 2);
  assert.deepEqual(Buffer.from(got[1]!.data!), Buffer.from(inner));
  assert.equal(pptStorages(ppt.subarray(0, ppt.length - 30), 1e9), undefined, 'compressed data cut short discards all');
  const zeroLength = Buffer.from(ppt);
  zeroLength.writeUInt32LE(0, 4);
  assert.equal(pptStorages(zeroLength, 1e9), undefined);
  const fromFile = items(buildCfb([{ path: 'PowerPoint Document', data: ppt }]));
  assert.equal(fromFile.filter((i) => isChild(i) && Buffer.from(i.data).equals(Buffer.from(inner))).length, 2);
});

test('HWP 5: compressed body streams are inflated; HWP 3 embedded OLE2 after 4 bytes', async () => {
  const { deflateRawSync } = await import('node:zlib');
  const { hwpOle2Layers } = await import('./ole2.js');
  const header = Buffer.alloc(256);
  header.write('HWP Document File', 'latin1');
  const body = Buffer.from('section text kestrel-plover-0001 '.repeat(30));
  for (const [flags, inflated] of [[1, true], [3, false], [0, false]] as const) {
    header.writeUInt32LE(flags, 36);
    const got = children(buildCfb([{ path: 'FileHeader', data: header }, { path: 'BodyText/Section0', data: deflateRawSync(body) }, { path: 'Other', data: deflateRawSync(body) }]));
    assert.equal(got.get('BodyText/Section0')!.equals(body), inflated, `flags ${flags}`);
    assert.deepEqual(got.get('Other'), deflateRawSync(body), 'other streams as they are');
  }
  const inner = buildCfb([{ path: 'A', data: bytes(100, 22) }]);
  const outer = Buffer.concat([Buffer.from([inner.length & 0xff, inner.length >> 8, 0, 0]), inner]);
  const it = [...hwpOle2Layers(outer)];
  assert.equal(it.length, 1);
  assert.deepEqual(Buffer.from((it[0] as { data: Uint8Array }).data), Buffer.from(inner));
});

test('MSI: packed stream names are unpacked for display', () => {
  // "!_StringPool" style names: 0x4840 then pairs of characters from 0x3800.
  const pack = (a: number, b: number): number => 0x3800 + a + (b << 6);
  const name = String.fromCharCode(0x4840, pack(63, 28), pack(29, 27));
  const f = buildCfb([{ path: name, data: bytes(200, 23) }]);
  assert.deepEqual([...children(f).keys()], ['!_STR']);
});

test('storages nested past the recursion limit end the walk with MaxRecursion', () => {
  const deep = Array.from({ length: 20 }, (_, k) => `d${k}`).join('/');
  const got = items(buildCfb([{ path: 'A', data: bytes(100, 30) }, { path: `${deep}/X`, data: bytes(100, 31) }]));
  assert.ok(got.some((i) => isLimited(i) && i.limit === 'MaxRecursion'));
  assert.ok(!got.some(isChild), 'the walk goes deep first and stops there, as ClamAV');
  const ok = items(buildCfb([{ path: `${deep.split('/').slice(0, 16).join('/')}/X`, data: bytes(100, 32) }]));
  assert.equal(ok.filter(isChild).length, 1);
});

test('an MSO bomb is cut at MaxFileSize and what came is scanned (ClamAV checks the limit as it inflates)', () => {
  const inner = Buffer.concat([Buffer.from('head kestrel-plover-0001 '), Buffer.alloc(3_000_000, 0x41)]);
  const mso = Buffer.concat([Buffer.from([0, 0, 0, 0]), deflateSync(inner)]);
  const got = items(buildCfb([{ path: 'ActiveMime', data: mso }]), ctx({}, { maxFileSize: 100_000 }));
  const child = got.find(isChild);
  assert.ok(child && child.data.length <= 100_000 && child.data.length > 50_000);
  assert.ok(Buffer.from(child.data).subarray(0, 25).equals(inner.subarray(0, 25)));
  // Damaged zlib data: what came before the damage.
  const bad = Buffer.from(mso);
  bad.fill(0xff, 200, 260);
  const partial = items(buildCfb([{ path: 'ActiveMime', data: bad }])).find(isChild);
  assert.ok(partial && partial.data.length > 0 && partial.data.length < inner.length);
});

test('hostile VBA data: every reader returns in bounded time on random and crafted input', async () => {
  const { legacyVbaModules, wordMacros, pptStorages } = await import('./vba-legacy.js');
  const { readVbaDir } = await import('./vba.js');
  const rnd = mulberry32(77);
  const t0 = Date.now();
  for (let k = 0; k < 300; k++) {
    const b = bytes(Math.floor(rnd() * 3000), k + 1000);
    if (rnd() < 0.5) { b[0] = 0xcc; b[1] = 0x61; }
    legacyVbaModules(b, () => rnd() < 0.9);
    wordMacros(b);
    pptStorages(b, 1e6);
    readVbaDir(b, () => [b], 1e6);
    clamVbaInflate(b, Math.floor(rnd() * 10), 1e6);
  }
  // All copy tokens, never a flush: a few megabytes of input spin the ring without output.
  const spin = new Uint8Array(2_000_000).fill(0xff);
  assert.ok((clamVbaInflate(spin, 0, 1_000_000)?.length ?? 0) <= 4096);
  assert.ok(Date.now() - t0 < 15000, `took ${Date.now() - t0} ms`);
});
