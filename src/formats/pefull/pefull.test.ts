import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Prng } from '../../../test/helpers/prng.js';
import { parsePeFull, peHashLookups, rvaToOffset, type PeFull } from './index.js';
import { peHashHits } from './clamav.js';
import { parseDotnet } from './dotnet.js';
import { richCount } from './misc.js';
import { buildMingwCorpus, mingwMissing, mutatePe, withRich, type CorpusFile } from './test-corpus.js';

const MISSING = mingwMissing();
const dec = (b: Uint8Array | undefined): string | undefined => (b ? Buffer.from(b).toString('latin1') : undefined);

let corpusCache: CorpusFile[] | undefined;
function corpus(): CorpusFile[] {
  if (corpusCache) return corpusCache;
  const dir = mkdtempSync(join(tmpdir(), 'vigil-pefull-'));
  try {
    corpusCache = buildMingwCorpus(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return corpusCache;
}
const file = (name: string): Uint8Array => corpus().find((f) => f.name === name)!.bytes;

/** Touches every lazily parsed part and the ClamAV hashes. */
function exercise(bytes: Uint8Array): void {
  const pe = parsePeFull(bytes);
  if (pe) {
    void [pe.imports, pe.delayImports, pe.exports, pe.resources, pe.rich, pe.pdbPath, pe.overlay, pe.signatures, pe.imphash];
    parseDotnet(pe.image);
  }
  peHashLookups(bytes);
  const port = { algorithmsFor: () => ['md5', 'sha1', 'sha256'] as const, lookup: () => [] as string[] };
  peHashHits(bytes, port, port, true);
}

test('a MinGW PE32 EXE: headers, sections, imports, exports, resources, version info, overlay', { skip: MISSING }, () => {
  const pe = parsePeFull(file('exe-i686.exe'))!;
  assert.ok(pe);
  assert.equal(pe.image.machine, 0x14c);
  assert.equal(pe.image.pe64, false);
  const names = pe.image.sections.map((s) => dec(s.name)?.replace(/\0+$/, ''));
  assert.ok(names.includes('.text') && names.includes('.rsrc') && names.includes('.vigil'));
  assert.ok(pe.entryPoint > 0 && pe.entryPoint < pe.image.size);
  const dlls = pe.imports.dlls.map((d) => dec(d.name)!.toLowerCase());
  assert.ok(dlls.includes('kernel32.dll') && dlls.includes('ws2_32.dll') && dlls.includes('user32.dll'));
  const ws2 = pe.imports.dlls.find((d) => dec(d.name)!.toLowerCase() === 'ws2_32.dll')!;
  assert.ok(ws2.functions.some((f) => dec(f.name) === 'WSAStartup'));
  assert.deepEqual(pe.exports.entries.map((e) => dec(e.name)), ['bar', 'foo']);
  assert.equal(dec(pe.exports.dllName), 'exe-i686.exe');
  const v = new Map(pe.resources!.versionStrings.map((s) => [dec(s.key), dec(s.value)]));
  assert.equal(v.get('CompanyName'), 'Vigil Test Co');
  assert.equal(v.get('Comments'), '');
  assert.equal(pe.resources!.leaves.length, 4);
  const named = pe.resources!.leaves.find((l) => l.typeString);
  assert.equal(Buffer.from(named!.typeString!).toString('utf16le'), 'MYTYPE');
  assert.ok(pe.resources!.leaves.some((l) => l.language === 0x407));
  // Unstripped: the COFF symbol table is the overlay.
  assert.equal(pe.overlay.offset, pe.image.pointerToSymbolTable);
  assert.match(pe.imphash, /^[0-9a-f]{32}$/);
});

test('a MinGW PE32+ DLL: ordinal imports named from YARA\'s tables, delay imports, exports', { skip: MISSING }, () => {
  const pe = parsePeFull(file('lib-x86_64.dll'))!;
  assert.equal(pe.image.pe64, true);
  const fn = (dll: string) => pe.imports.dlls.find((d) => dec(d.name) === dll)!.functions.map((f) => `${dec(f.name)}/${f.ordinal ?? '-'}`);
  assert.deepEqual(fn('ws2_32.dll').sort(), ['closesocket/3', 'htons/9']);
  assert.deepEqual(fn('oleaut32.dll'), ['SysAllocString/2']);
  assert.ok(fn('vigtest.dll').includes('ord7/7'));
  assert.deepEqual(pe.delayImports.dlls.map((d) => dec(d.name)), ['vigdelay.dll']);
  assert.deepEqual(pe.delayImports.dlls[0]!.functions.map((f) => `${dec(f.name)}/${f.ordinal ?? '-'}`), ['vd_func/-', 'ord5/5']);
  // Ordinals 1..12 from the .def file: gaps have no address, @12 is exported without a name.
  const byOrdinal = new Map(pe.exports.entries.map((e) => [e.ordinal, e]));
  assert.equal(pe.exports.entries.length, 12);
  assert.equal(dec(byOrdinal.get(1)!.name), 'exp_one');
  assert.equal(dec(byOrdinal.get(7)!.name), 'exp_alias');
  assert.equal(byOrdinal.get(7)!.rva, byOrdinal.get(1)!.rva);
  assert.equal(dec(byOrdinal.get(9)!.forwardName), 'kernel32.Sleep');
  assert.equal(byOrdinal.get(12)!.name, undefined);
  assert.ok(byOrdinal.get(12)!.rva !== 0);
  assert.equal(pe.overlay.size, 0);
});

test('the Rich header: offset, key, clear data and tool counts', { skip: MISSING }, () => {
  const bytes = withRich(file('exe-i686-s.exe'), 0x12345678);
  const pe = parsePeFull(bytes)!;
  assert.equal(pe.rich!.offset, 0x40);
  assert.equal(pe.rich!.key, 0x12345678);
  assert.equal(pe.rich!.length, 40);
  assert.equal(Buffer.from(pe.rich!.clearData.subarray(0, 4)).toString('latin1'), 'DanS');
  assert.equal(richCount(pe.rich!, undefined, 0xffn), 3n);
  assert.equal(richCount(pe.rich!, 0x7809n, undefined), 15n);
  assert.equal(richCount(pe.rich!, 0x7809n, 0x104n), 12n);
  assert.equal(richCount(pe.rich!, 0n, 1n), 1n);
  assert.equal(parsePeFull(file('exe-i686-s.exe'))!.rich, undefined);
});

test('truncation at many points never throws and keeps YARA\'s view consistent', { skip: MISSING }, () => {
  for (const f of corpus().slice(0, 6)) {
    const b = f.bytes;
    const cuts = new Set<number>([0, 1, 2, 63, 64, 0x3c, 0x40, 0x7f, 0x80, 0x84, 0x98, 0x100, 0x178, 0x180, 0x200, 0x400]);
    for (let c = 0; c < b.length; c += Math.max(1, Math.floor(b.length / 150))) cuts.add(c);
    for (const c of cuts) {
      const cut = b.subarray(0, Math.min(c, b.length));
      exercise(cut);
      const pe = parsePeFull(cut);
      if (pe) {
        assert.ok(pe.entryPoint === -1 || pe.entryPoint < cut.length);
        for (const l of pe.resources?.leaves ?? []) assert.ok(l.offset === undefined || l.offset < cut.length);
      }
    }
  }
});

test('300+ seeded mutations never throw and finish quickly', { skip: MISSING }, () => {
  const rng = new Prng('pefull-mutations');
  let n = 0;
  for (const f of corpus()) {
    for (let m = 0; m < 30; m++) {
      const { bytes, what } = mutatePe(rng, f.bytes);
      const t0 = performance.now();
      exercise(bytes);
      const ms = performance.now() - t0;
      assert.ok(ms < 3000, `${f.name} ${what} took ${ms} ms`);
      n++;
    }
  }
  assert.ok(n >= 300);
});

// ───────────────────── synthetic images for hostile structures ─────────────────────

/** A PE32 with one section (VA 0x1000, raw at 0x200) holding `section`; directory `dir` points at it. */
function syntheticPe(section: Uint8Array, dir = 2, dirSize = section.length): Uint8Array {
  const b = new Uint8Array(0x200 + section.length);
  const dv = new DataView(b.buffer);
  b[0] = 0x4d; b[1] = 0x5a;
  dv.setUint32(0x3c, 0x40, true);
  dv.setUint32(0x40, 0x4550, true);
  dv.setUint16(0x44, 0x14c, true);
  dv.setUint16(0x46, 1, true);
  dv.setUint16(0x54, 0xe0, true);
  dv.setUint16(0x56, 0x102, true);
  const o = 0x58;
  dv.setUint16(o, 0x10b, true);
  dv.setUint32(o + 16, 0x1000, true);
  dv.setUint32(o + 28, 0x400000, true);
  dv.setUint32(o + 32, 0x1000, true);
  dv.setUint32(o + 36, 0x200, true);
  dv.setUint32(o + 56, 0x1000 + section.length, true);
  dv.setUint32(o + 60, 0x200, true);
  dv.setUint32(o + 92, 16, true);
  dv.setUint32(o + 96 + 8 * dir, 0x1000, true);
  dv.setUint32(o + 96 + 8 * dir + 4, dirSize, true);
  const s = o + 0xe0;
  b.set(new TextEncoder().encode('.rsrc'), s);
  dv.setUint32(s + 8, section.length, true);
  dv.setUint32(s + 12, 0x1000, true);
  dv.setUint32(s + 16, section.length, true);
  dv.setUint32(s + 20, 0x200, true);
  b.set(section, 0x200);
  return b;
}

test('resource trees: self-loops stop at three levels, fan-out bombs are bounded', () => {
  // Root directory whose entries point back at the root: yara walks three levels, then a leaf.
  const loop = new Uint8Array(64);
  const lv = new DataView(loop.buffer);
  lv.setUint16(14, 2, true);
  lv.setUint32(16, 3, true);
  lv.setUint32(20, 0x80000000, true);
  lv.setUint32(24, 0x10, true);
  lv.setUint32(28, 0x80000000, true);
  const pe = parsePeFull(syntheticPe(loop))!;
  // 2 × 2 × 2 leaves, each reading the root directory itself as a data entry.
  assert.equal(pe.resources!.leaves.length, 8);

  // 32768 id entries at each level pointing at the same directory: 3.5e13 paths without a bound.
  const n = 32768;
  const bomb = new Uint8Array(16 + 8 * n);
  const bv = new DataView(bomb.buffer);
  bv.setUint16(14, n, true);
  for (let i = 0; i < n; i++) {
    bv.setUint32(16 + 8 * i, i, true);
    bv.setUint32(20 + 8 * i, 0x80000000, true);
  }
  const t0 = performance.now();
  const big = parsePeFull(syntheticPe(bomb))!;
  const leaves = big.resources!.leaves.length;
  assert.ok(leaves > 0 && leaves <= 65537, `${leaves} leaves`);
  assert.ok(performance.now() - t0 < 5000);
  exercise(syntheticPe(bomb));
});

test('version info: truncated and cyclic-length records are bounded', () => {
  const rng = new Prng('version-info');
  for (let k = 0; k < 60; k++) {
    const sec = rng.bytes(rng.int(40, 600));
    const dv = new DataView(sec.buffer);
    // Root → one RT_VERSION leaf whose data is in the section.
    dv.setUint32(0, 0, true);
    dv.setUint16(12, 0, true);
    dv.setUint16(14, 1, true);
    dv.setUint32(16, 16, true);
    if (sec.length >= 40) {
      dv.setUint32(20, 24, true);
      dv.setUint32(24, 0x1000 + 40, true);
      dv.setUint32(28, sec.length - 40, true);
      if (sec.length > 80) sec.set(Buffer.from('\0\0\0\0\0\0VS_VERSION_INFO', 'utf16le').subarray(6), 46);
    }
    exercise(syntheticPe(sec));
  }
});

test('exports and imports of synthetic directories: counts capped, bad names refused', () => {
  // Export directory claiming 2^32-1 functions: capped at 8192, arrays outside the file → no entries.
  const exp = new Uint8Array(64);
  const ev = new DataView(exp.buffer);
  ev.setUint32(20, 0xffffffff, true);
  ev.setUint32(24, 0xffffffff, true);
  const pe = parsePeFull(syntheticPe(exp, 0))!;
  assert.equal(pe.exports.entries.length, 0);
  assert.ok(pe.exports.timestamp !== undefined);

  // Import descriptor whose DLL name has a forbidden character: skipped and not counted.
  const imp = new Uint8Array(128);
  const iv = new DataView(imp.buffer);
  iv.setUint32(12, 0x1000 + 64, true);
  iv.setUint32(16, 0x1000 + 80, true);
  imp.set(new TextEncoder().encode('bad|name.dll\0'), 64);
  iv.setUint32(80, 0x80000001, true);
  const p2 = parsePeFull(syntheticPe(imp, 1))!;
  assert.equal(p2.imports.numberOfDlls, 0);
  imp.set(new TextEncoder().encode('WS2_32.dll\0\0\0'), 64);
  const p3: PeFull = parsePeFull(syntheticPe(imp, 1))!;
  assert.equal(p3.imports.numberOfDlls, 1);
  assert.equal(dec(p3.imports.dlls[0]!.functions[0]!.name), 'accept');
  assert.equal(rvaToOffset(p3.image, 0x1000), 0x200);
  assert.equal(rvaToOffset(p3.image, 0x5000), -1);
});

test('not a PE: no parse, no hashes', () => {
  for (const bytes of [new Uint8Array(0), new TextEncoder().encode('MZ'), new Uint8Array(4096)]) {
    assert.equal(parsePeFull(bytes), undefined);
    assert.deepEqual(peHashLookups(bytes).sections, []);
    exercise(bytes);
  }
});

test('Authenticode: signer certificates, nested signatures, long subjects cut as OpenSSL cuts them', { skip: MISSING }, () => {
  const signed = corpus().filter((f) => f.name.startsWith('signed'));
  if (signed.length === 0) return; // openssl / osslsigncode absent: no signed samples
  const one = parsePeFull(file('signed1-i686.exe'))!.signatures!;
  assert.equal(one.length, 1);
  assert.equal(dec(one[0]!.subject), '/C=DE/ST=Berlin/O=Vigil Test/CN=Vigil Code Signing/emailAddress=a@b.c');
  assert.equal(dec(one[0]!.serial), '00:a1:b2:c3:d4');
  assert.equal(dec(one[0]!.algorithm), 'sha256WithRSAEncryption');
  assert.equal(one[0]!.version, 3);
  assert.match(dec(one[0]!.thumbprint)!, /^[0-9a-f]{40}$/);
  assert.ok(one[0]!.notAfter! > one[0]!.notBefore!);
  const two = parsePeFull(file('signed2-x86_64.exe'))!.signatures!;
  assert.equal(two.length, 2);
  assert.match(dec(two[1]!.subject)!, /\/OU=Unit\+SN=Holder\/CN=Nested Signer$/);
  assert.equal(dec(two[1]!.serial), '00:ff:01');
  const long = parsePeFull(file('signed3-i686.exe'))!.signatures!;
  assert.ok(dec(long[0]!.subject)!.length <= 255 && !dec(long[0]!.subject)!.includes('CN='));
  // Every damaged copy of the signature blob parses without throwing.
  const rng = new Prng('authenticode');
  const base = file('signed2-i686.exe');
  const pe = parsePeFull(base)!;
  const dir = pe.image.data.length - 1;
  for (let k = 0; k < 300; k++) {
    const b = base.slice();
    for (let i = rng.int(1, 6); i > 0; i--) b[rng.int(Math.max(0, dir - 3000), dir)] = rng.int(0, 255);
    void parsePeFull(b)?.signatures;
  }
  // No security directory entry: undefined; an empty one: no signatures.
  assert.equal(parsePeFull(file('exe-i686-s.exe'))!.signatures!.length, 0);
});
