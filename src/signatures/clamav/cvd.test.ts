/**
 * Tests for the signed-container loader. They use ClamAV's real signed unit-test databases
 * (test-1..6.cvd and test-2..6.cdiff from ../shared/data/clamav, skipped with a message when that
 * folder is absent), compare with `sigtool -i`, `-u` and `--build` when sigtool is installed, and
 * build `.cld` and `.cud` containers here from test-6.cvd's members (a `.cld` keeps test-6's
 * signed `.info`, so it verifies as official without a private key).
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { constants, createHash, createPublicKey, verify as cryptoVerify } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync, gunzipSync } from 'node:zlib';
import type { Diagnostic } from '../../core/diagnostics.js';
import { readTar } from '../../formats/tar.js';
import {
  CDIFF_KEY,
  CVD_KEY,
  INFO_KEY,
  containerKind,
  cvdInfo,
  decodeClamBase64,
  formatCvdInfo,
  loadContainer,
  parseCvdHeader,
  verifyCdiffFile,
  verifyCvdSignature,
  verifyInfoSignature,
  type ContainerLoad,
} from './cvd.js';

// ---------------------------------------------------------------------------------------------
// Test data and tools

function sharedData(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
  const data = join(dir, '..', 'shared', 'data', 'clamav');
  return existsSync(join(data, 'test-6.cvd')) ? data : undefined;
}
const DATA = sharedData();
const NO_DATA = 'shared test data not found: ../shared/data/clamav (next to the repository) is absent';
const needData = { skip: DATA ? false : NO_DATA };

const sigtoolProbe = spawnSync('sigtool', ['--version'], { encoding: 'utf8' });
const HAVE_SIGTOOL = !sigtoolProbe.error && sigtoolProbe.status === 0;
const needSigtool = { skip: !DATA ? NO_DATA : HAVE_SIGTOOL ? false : 'sigtool is not installed (ClamAV 1.4 sigtool is the oracle for this test)' };
const needSigtoolOnly = { skip: HAVE_SIGTOOL ? false : 'sigtool is not installed (ClamAV 1.4 sigtool is the oracle for this test)' };

const dataPath = (name: string) => join(DATA!, name);
const readData = (name: string) => new Uint8Array(readFileSync(dataPath(name)));

interface Member {
  name: string;
  data: Uint8Array;
  typeflag?: string;
}

/** test-6.cvd's tar members in order, COPYING and test.info included. */
function test6Members(): Member[] {
  const body = gunzipSync(readData('test-6.cvd').subarray(512));
  return readTar(body).entries.map((e) => ({ name: e.name, data: Uint8Array.from(e.data) }));
}

/** A tar as sigtool writes it: v7 headers (name, octal size, checksum, typeflag NUL), no end blocks. */
function tarOf(members: Member[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const m of members) {
    const h = new Uint8Array(512);
    h.set(Buffer.from(m.name, 'latin1'), 0);
    h.set(Buffer.from(m.data.length.toString(8) + '\0'), 124);
    h[156] = (m.typeflag ?? '\0').charCodeAt(0);
    let sum = 256;
    for (const b of h) sum += b;
    h.set(Buffer.from(sum.toString(8).padStart(6, '0') + '\0'), 148);
    parts.push(h, m.data, new Uint8Array((512 - (m.data.length % 512)) % 512));
  }
  return Uint8Array.from(Buffer.concat(parts));
}

function headerBlock(text: string): Uint8Array {
  assert.ok(text.length <= 512);
  return Uint8Array.from(Buffer.from(text.padEnd(512, ' '), 'latin1'));
}

function container(headerText: string, body: Uint8Array): Uint8Array {
  return Uint8Array.from(Buffer.concat([headerBlock(headerText), body]));
}

const firstLine = (b: Uint8Array) => Buffer.from(b).toString('latin1').split('\n')[0]!;
const find = (ms: Member[], name: string) => ms.find((m) => m.name === name)!;
const utf = (s: string) => Uint8Array.from(Buffer.from(s, 'latin1'));

/** A .cld as freshclam builds it: header = the .info's first line padded, then a plain tar. */
function cldOf(members: Member[], opts: { headerText?: string; gzip?: boolean } = {}): Uint8Array {
  const info = members.find((m) => m.name.endsWith('.info'));
  const text = opts.headerText ?? firstLine(info!.data);
  const tar = tarOf(members);
  return container(text, opts.gzip ? gzipSync(tar) : tar);
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const md5 = (b: Uint8Array) => createHash('md5').update(b).digest('hex');

/** An unsigned .cud built in code: a DSIG-less .info, then gzip, header MD5 of the body. */
function cudOf(files: Member[], opts: { version?: number; flevel?: number; md5?: boolean; extra?: Member[] } = {}): Uint8Array {
  const head = `ClamAV-VDB:29 Nov 2026 04-34 +0000:${opts.version ?? 7}:3:${opts.flevel ?? 216}:X:X:tester:1795926862`;
  const info = head + '\n' + files.map((f) => `${f.name}:${f.data.length}:${sha256(f.data)}\n`).join('');
  const body = gzipSync(tarOf([{ name: 'COPYING', data: utf('licence\n') }, { name: 'test.info', data: utf(info) }, ...files, ...(opts.extra ?? [])]));
  const h = head.replace(':X:X:', `:${opts.md5 === false ? 'X' : md5(body)}:X:`);
  return container(h, body);
}

const errors = (r: { diagnostics: Diagnostic[] }) => r.diagnostics.filter((d) => d.severity === 'error');

function assertRefused(r: ContainerLoad, code: string, message?: RegExp | string): void {
  const errs = errors(r);
  assert.equal(r.files.length, 0, 'a refused container yields no files');
  assert.equal(r.official, false);
  assert.ok(errs.length > 0, 'expected an error diagnostic');
  const hit = errs.find((d) => d.code === code);
  assert.ok(hit, `expected an error with code ${code}; got ${JSON.stringify(errs.map((d) => [d.code, d.message]))}`);
  if (typeof message === 'string') assert.equal(hit.message, message);
  else if (message) assert.match(hit.message, message);
}

function assertLoaded(r: ContainerLoad, official: boolean): void {
  assert.deepEqual(errors(r), []);
  assert.equal(r.official, official);
  assert.ok(r.files.length > 0);
}

const TEST6_FILES = ['test.cfg', 'test.hdb', 'test.hdu', 'test.hsb', 'test.hsu', 'test.mdb', 'test.mdu', 'test.msb', 'test.msu', 'test.ndb', 'test.ndu', 'test.ldb', 'test.ldu', 'test.idb', 'test.fp', 'test.sfp', 'test.crb', 'test.cdb'];

// ---------------------------------------------------------------------------------------------
// Base-64 and signatures

test('decodeClamBase64 reads little-endian digits with lower case first', () => {
  assert.equal(decodeClamBase64(''), 0n);
  assert.equal(decodeClamBase64('b'), 1n);
  assert.equal(decodeClamBase64('A'), 26n);
  assert.equal(decodeClamBase64('/'), 63n);
  assert.equal(decodeClamBase64('ab'), 64n);
  assert.equal(decodeClamBase64('//'), 4095n);
  assert.equal(decodeClamBase64('a=b'), undefined);
  assert.equal(decodeClamBase64('é'), undefined);
  assert.equal(decodeClamBase64('a'.repeat(5000)), undefined);
});

test('the three ClamAV keys have the sizes and exponents of reference §2.2', () => {
  assert.deepEqual([CVD_KEY.bytes, CVD_KEY.digits, CVD_KEY.e], [128, 171, 100001027n]);
  assert.deepEqual([INFO_KEY.bytes, INFO_KEY.digits, INFO_KEY.e], [256, 342, 100002049n]);
  assert.deepEqual([CDIFF_KEY.bytes, CDIFF_KEY.digits, CDIFF_KEY.e], [256, 342, 100002053n]);
});

test('verifyCvdSignature accepts test-6.cvd\'s header signature and refuses it for another MD5', needData, () => {
  const h = parseCvdHeader(readData('test-6.cvd')).header!;
  const digest = Buffer.from(h.md5, 'hex');
  assert.deepEqual(verifyCvdSignature(digest, h.dsig), { ok: true });
  digest[15] = digest[15]! ^ 1;
  assert.deepEqual(verifyCvdSignature(digest, h.dsig), { ok: false, reason: 'does not match the header MD5' });
});

test('verifyCvdSignature refuses signatures that are not canonically written', needData, () => {
  const h = parseCvdHeader(readData('test-6.cvd')).header!;
  const digest = Buffer.from(h.md5, 'hex');
  const check = (dsig: string) => verifyCvdSignature(digest, dsig);
  assert.match((check(h.dsig + 'b') as { reason: string }).reason, /is 172 characters long; a signature for the CVD header key has at most 171/);
  assert.match((check(h.dsig.slice(0, 170) + '!') as { reason: string }).reason, /contains '!' at position 171/);
  assert.match((check('') as { reason: string }).reason, /is empty/);
  assert.match((check('b'.repeat(170) + '/') as { reason: string }).reason, /not below the CVD header key's modulus/);
  assert.match((check('bbba') as { reason: string }).reason, /redundant zero/);
});

test('verifyInfoSignature accepts every .info DSIG of test-3..6.cvd, including test-5\'s that standard PSS refuses', needData, () => {
  for (const n of [3, 4, 5, 6]) {
    const info = readTar(gunzipSync(readData(`test-${n}.cvd`).subarray(512))).entries.find((e) => e.name === 'test.info')!.data;
    const text = Buffer.from(info).toString('latin1');
    const at = text.indexOf('DSIG:');
    const dsig = text.slice(at + 5, text.length - 1);
    assert.deepEqual(verifyInfoSignature(info.subarray(0, at), dsig), { ok: true }, `test-${n}.cvd`);
    assert.equal(verifyInfoSignature(info.subarray(0, at - 1), dsig).ok, false);
    if (n === 5) {
      // ClamAV's signer clears one bit of a 2047-bit key's block where RFC 8017 wants two cleared:
      // OpenSSL's standard verifier refuses this genuine signature.
      const s = decodeClamBase64(dsig)!;
      const sig = Buffer.from(s.toString(16).padStart(512, '0'), 'hex');
      const b64u = (v: bigint) => {
        const hex = v.toString(16);
        return Buffer.from(hex.length % 2 ? '0' + hex : hex, 'hex').toString('base64url');
      };
      const key = createPublicKey({ key: { kty: 'RSA', n: b64u(INFO_KEY.n), e: b64u(INFO_KEY.e) }, format: 'jwk' });
      assert.equal(cryptoVerify('sha256', info.subarray(0, at), { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, sig), false);
    }
  }
});

test('verifyCdiffFile accepts test-2..6.cdiff and refuses one with a changed byte', needData, () => {
  for (const n of [2, 3, 4, 5, 6]) {
    const bytes = readData(`test-${n}.cdiff`);
    assert.deepEqual(verifyCdiffFile(bytes), { ok: true }, `test-${n}.cdiff`);
    bytes[20] = bytes[20]! ^ 1;
    assert.equal(verifyCdiffFile(bytes).ok, false);
  }
  assert.equal(verifyCdiffFile(new Uint8Array(10)).ok, false);
});

// ---------------------------------------------------------------------------------------------
// Header

test('parseCvdHeader reads every field of test-6.cvd\'s header', needData, () => {
  const { header, diagnostics } = parseCvdHeader(readData('test-6.cvd'), 'test-6.cvd');
  assert.deepEqual(diagnostics, []);
  assert.deepEqual(
    { ...header!, text: undefined, fields: undefined },
    {
      text: undefined,
      fields: undefined,
      buildTime: '22 Jun 2021 21-34 -0400',
      version: 6,
      sigs: 14,
      flevel: 81,
      md5: '3e249e00076b0b15bb54ced37be880c7',
      dsig: 'Dou6ICRT5HwLTtLNYToHsMoLnt8tdcQOEECp/INsusRs9Rz4JGWU27W76btwjszaKIHnfgfyFjHzlsYJxTFZoeYFLyaC1nd+SNSWaMyKeNvzcTrtxKbc5WKs04ORp923pFkqymRhFNrRupa8tVyrp9XN9WbdxVJKZNHzB6npPPj',
      builder: 'micasnyd',
      stime: 1624412045,
    },
  );
});

test('parseCvdHeader reports each malformation of a header', () => {
  const codes = (text: string | Uint8Array) => parseCvdHeader(typeof text === 'string' ? headerBlock(text) : text, 'x.cvd').diagnostics.map((d) => d.code);
  assert.deepEqual(codes(new Uint8Array(100)), ['cvd.header.truncated']);
  assert.deepEqual(codes('ClamAV-VDX:22 Jun 2021 21-34 -0400:6:14:81:X:X:b:1'), ['cvd.header.magic']);
  assert.deepEqual(codes('ClamAV-VDB:22 Jun 2021 21-34 -0400:6:14:81:X:X'), ['cvd.header.fields']);
  assert.deepEqual(codes('ClamAV-VDB:22 Jun 2021 21-34 -0400:6:14:81:X:X:b:1:extra'), ['cvd.header.fields']);
  assert.deepEqual(codes('ClamAV-VDB:22 Jun 2021 21-34 -0400:6x:14::X:X:b:1'), ['cvd.header.field', 'cvd.header.field']);
  assert.deepEqual(codes('ClamAV-VDB:22 Jun 2021 21-34 -0400:6:14:81:3E249E00076B0B15BB54CED37BE880C7:X:b:1'), ['cvd.header.md5']);
  assert.deepEqual(codes('ClamAV-VDB:22 Jun 2021 21-34 -0400:6:14:81:X:ab=c:b:1'), ['cvd.header.dsig']);
  assert.deepEqual(codes('ClamAV-VDB:yesterday:6:14:81:X:X:b:1'), ['cvd.header.build-time']);
  assert.deepEqual(codes('ClamAV-VDB:22 Jun 2021 21-34 -0400:6:14:81:X:X:b:99999999999'), ['cvd.header.field']);
  const nul = headerBlock('ClamAV-VDB:22 Jun 2021 21-34 -0400:6:14:81:X:X:b:1');
  nul[300] = 0;
  const r = parseCvdHeader(nul, 'x.cvd');
  assert.deepEqual(r.diagnostics.map((d) => d.message), ['x.cvd: header byte at offset 300 is 0x00; the header must be printable ASCII padded with spaces']);
  // An old header without stime is accepted.
  const old = parseCvdHeader(headerBlock('ClamAV-VDB:22 Jun 2021 21-34 -0400:6:14:81:X:X:b'));
  assert.deepEqual(old.diagnostics, []);
  assert.equal(old.header!.stime, undefined);
});

test('containerKind reads the extension case-insensitively', () => {
  assert.equal(containerKind('daily.CVD'), 'cvd');
  assert.equal(containerKind('/x/daily.cld'), 'cld');
  assert.equal(containerKind('local.cud'), 'cud');
  assert.equal(containerKind('daily.cvd.sign'), undefined);
});

// ---------------------------------------------------------------------------------------------
// Real signed databases

test('loadContainer verifies test-1..6.cvd as official and lists their database members in tar order', needData, () => {
  for (let n = 1; n <= 6; n++) {
    const r = loadContainer(readData(`test-${n}.cvd`), `test-${n}.cvd`);
    assert.deepEqual(r.diagnostics, [], `test-${n}.cvd`);
    assert.equal(r.official, true);
    assert.equal(r.kind, 'cvd');
    assert.equal(r.header!.version, n);
    assert.deepEqual(r.files.map((f) => f.name), n <= 2 ? ['test.ndb', 'test.ldb'] : TEST6_FILES);
  }
});

test('loadContainer yields exactly the database members and bytes that sigtool -u unpacks', needSigtool, () => {
  for (let n = 1; n <= 6; n++) {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-cvd-'));
    try {
      const u = spawnSync('sigtool', ['-u', dataPath(`test-${n}.cvd`)], { cwd: dir, encoding: 'utf8' });
      assert.equal(u.status, 0, u.stderr);
      const unpacked = readdirSync(dir).filter((f) => f !== 'COPYING' && !f.endsWith('.info')).sort();
      const r = loadContainer(readData(`test-${n}.cvd`), `test-${n}.cvd`);
      assert.deepEqual(r.files.map((f) => f.name).sort(), unpacked, `test-${n}.cvd`);
      for (const f of r.files) assert.deepEqual(Buffer.from(f.data), readFileSync(join(dir, f.name)), `${f.name} of test-${n}.cvd`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
});

test('formatCvdInfo prints what sigtool -i prints for test-1..6.cvd', needSigtool, () => {
  for (let n = 1; n <= 6; n++) {
    const path = dataPath(`test-${n}.cvd`);
    const ours = formatCvdInfo(cvdInfo(readData(`test-${n}.cvd`), path));
    const theirs = spawnSync('sigtool', ['-i', path], { encoding: 'utf8' });
    assert.equal(ours, theirs.stdout, `test-${n}.cvd`);
  }
});

test('cvdInfo reports the header fields and the status of each check', needData, () => {
  const info = cvdInfo(readData('test-6.cvd'), 'test-6.cvd');
  assert.equal(info.buildTime, '22 Jun 2021 21:34 -0400');
  assert.deepEqual([info.kind, info.md5, info.headerSignature, info.infoSignature, info.verification, info.official], ['cvd', 'ok', 'ok', 'ok', 'ok', true]);
  assert.deepEqual(info.members.slice(0, 2), [{ name: 'COPYING', size: 17992 }, { name: 'test.info', size: 1802 }]);
  assert.equal(formatCvdInfo(info).split('\n')[1], 'Build time: 22 Jun 2021 21:34 -0400');

  const bad = readData('test-6.cvd');
  bad[2000] = bad[2000]! ^ 1;
  const failed = cvdInfo(bad, 'test-6.cvd');
  assert.deepEqual([failed.md5, failed.verification], ['failed', 'failed']);
  assert.match(formatCvdInfo(failed), /^Verification FAILED: test-6\.cvd: the MD5 of the body/m);

  // Without a recognisable name, the kind is read from the header.
  assert.equal(cvdInfo(readData('test-6.cvd')).kind, 'cvd');
  assert.equal(cvdInfo(cudOf([{ name: 'test.hdb', data: utf('x') }])).kind, 'cud');
});

test('loadContainer refuses test-6.cvd with any single byte changed, at every offset', needData, () => {
  const original = readData('test-6.cvd');
  const copy = Uint8Array.from(original);
  const accepted: string[] = [];
  let loads = 0;
  const started = Date.now();
  for (let i = 0; i < original.length; i++) {
    const b = original[i]!;
    const variants = new Set([b ^ 0x01, b ^ 0x20, b ^ 0x80, b === 0x20 ? 0x00 : 0x20]);
    for (const v of variants) {
      copy[i] = v;
      const r = loadContainer(copy, 'test-6.cvd');
      loads++;
      if (r.files.length > 0 || r.official || errors(r).length === 0) accepted.push(`offset ${i}: 0x${b.toString(16)} -> 0x${v.toString(16)}`);
    }
    copy[i] = b;
  }
  assert.deepEqual(accepted, []);
  assert.ok(loads > 3 * original.length);
  assert.ok(Date.now() - started < 20000, `took ${Date.now() - started} ms`);
  // The unchanged copy still loads.
  assertLoaded(loadContainer(copy, 'test-6.cvd'), true);
});

// ---------------------------------------------------------------------------------------------
// .cld and .cud

test('a .cld with a plain tar body and the header from its .info loads as official', needData, () => {
  const ms = test6Members();
  const r = loadContainer(cldOf(ms), 'test.cld');
  assertLoaded(r, true);
  assert.equal(r.kind, 'cld');
  assert.equal(r.header!.md5, 'X');
  assert.deepEqual(r.files.map((f) => f.name), TEST6_FILES);
  assert.deepEqual(Buffer.from(r.files[9]!.data), Buffer.from(find(ms, 'test.ndb').data));
});

test('a .cld with a gzip body (CompressLocalDatabase) loads as official', needData, () => {
  assertLoaded(loadContainer(cldOf(test6Members(), { gzip: true }), 'daily.cld'), true);
});

test('sigtool -i verifies the .cld built by these tests', needSigtool, () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-cld-'));
  try {
    writeFileSync(join(dir, 'test.cld'), cldOf(test6Members()));
    const out = spawnSync('sigtool', ['-i', join(dir, 'test.cld')], { encoding: 'utf8' });
    assert.match(out.stdout, /Verification OK\./);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a .cud built by sigtool --build --unsigned loads as unofficial', needSigtoolOnly, () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-cud-'));
  try {
    const hdb = '44d88612fea8a8f36de82e1278abb02f:68:Eicar-Test-Signature\n';
    const ndb = 'Vigil.Test.Sample-1:0:*:766967696c2d746573742d6d61726b6572\n';
    writeFileSync(join(dir, 'COPYING'), 'test licence\n');
    writeFileSync(join(dir, 'test.hdb'), hdb);
    writeFileSync(join(dir, 'test.ndb'), ndb);
    const b = spawnSync('sigtool', ['--build=test.cud', '--unsigned', '--cvd-version=7', '--no-cdiff', `--datadir=${dir}`], {
      cwd: dir, encoding: 'utf8', env: { ...process.env, SIGNDUSER: 'tester' }, input: '',
    });
    assert.equal(b.status, 0, b.stderr);
    const bytes = new Uint8Array(readFileSync(join(dir, 'test.cud')));
    const r = loadContainer(bytes, 'test.cud');
    assertLoaded(r, false);
    assert.equal(r.kind, 'cud');
    assert.equal(r.header!.version, 7);
    assert.equal(r.header!.builder, 'tester');
    assert.equal(r.header!.dsig, 'X');
    assert.deepEqual(r.files.map((f) => [f.name, Buffer.from(f.data).toString()]), [['test.hdb', hdb], ['test.ndb', ndb]]);
    assert.equal(cvdInfo(bytes, 'test.cud').verification, 'unsigned');
    // The same bytes named .cvd have no signature: refused unless unsigned containers are allowed.
    assertRefused(loadContainer(bytes, 'test.cvd'), 'cvd.dsig', 'test.cvd: the header has no digital signature (its dsig field is X)');
    assertLoaded(loadContainer(bytes, 'test.cvd', { allowUnsigned: true }), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a .cud built in code loads as unofficial', () => {
  const files = [{ name: 'test.hdb', data: utf('44d88612fea8a8f36de82e1278abb02f:68:Eicar-Test-Signature\n') }];
  const r = loadContainer(cudOf(files), 'local.cud');
  assertLoaded(r, false);
  assert.deepEqual(r.files.map((f) => f.name), ['test.hdb']);
  // ...also with no MD5 in its header, as ClamAV does not check one for a .cud.
  assertLoaded(loadContainer(cudOf(files, { md5: false }), 'local.cud'), false);
});

test('loadContainer warns about a functionality level above the engine\'s and loads anyway', () => {
  const r = loadContainer(cudOf([{ name: 'a.hdb', data: utf('x') }], { flevel: 999 }), 'a.cud');
  assertLoaded(r, false);
  assert.deepEqual(r.diagnostics.map((d) => [d.code, d.severity]), [['cvd.flevel', 'warning']]);
});

test('a .cud whose .info carries a DSIG line is refused, as ClamAV 1.4 refuses it', needData, () => {
  assertRefused(loadContainer(readData('test-6.cvd'), 'test-6.cud'), 'cvd.info.format', /test\.info line 20 has 2 colon-separated fields; expected name:size:sha256 \(a \.cud is unsigned/);
});

test('a .cud without a .info is refused, as ClamAV 1.4 refuses it', () => {
  const body = gzipSync(tarOf([{ name: 'COPYING', data: utf('x') }, { name: 'test.hdb', data: utf('y') }]));
  assertRefused(loadContainer(container('ClamAV-VDB:22 Jun 2021 21-34 -0400:6:14:81:X:X:b:1624412045', body), 't.cud'), 'cvd.info.missing');
});

// ---------------------------------------------------------------------------------------------
// Refusals, each with its own error

test('loadContainer refuses a name without a container extension', () => {
  assertRefused(loadContainer(new Uint8Array(600), 'daily.db'), 'cvd.kind');
});

test('loadContainer refuses test-6.cvd truncated at any of many lengths, never throwing', needData, () => {
  const full = readData('test-6.cvd');
  const expect = (n: number) => (n < 512 ? 'cvd.header.truncated' : n === 512 ? 'cvd.body.missing' : 'cvd.md5');
  for (const n of [0, 1, 11, 100, 511, 512, 513, 519, 530, 1000, 5000, full.length - 9, full.length - 8, full.length - 1]) {
    assertRefused(loadContainer(full.subarray(0, n), 'test-6.cvd'), expect(n));
  }
});

test('loadContainer refuses a truncated .cld with a tar error and a truncated .cud with a gzip error', needData, () => {
  const cld = cldOf(test6Members());
  assertRefused(loadContainer(cld.subarray(0, 513), 'test.cld'), 'cvd.body.truncated', 'test.cld: the body is 1 bytes, too short for a gzip stream or a tar');
  for (const n of [519, 600, 1024, 1100, 20000, cld.length - 1]) {
    assertRefused(loadContainer(cld.subarray(0, n), 'test.cld'), 'tar.truncated');
  }
  const cud = cudOf([{ name: 'a.hdb', data: new Uint8Array(5000).fill(65) }], { md5: false });
  assertRefused(loadContainer(cud.subarray(0, 520), 'a.cud'), 'cvd.body.truncated');
  for (const n of [530, 540, cud.length - 9, cud.length - 4, cud.length - 1]) {
    assertRefused(loadContainer(cud.subarray(0, n), 'a.cud'), 'cvd.gzip');
  }
  for (let n = 0; n <= cud.length; n++) assert.equal(loadContainer(cud.subarray(0, n), 'a.cud').files.length, n === cud.length ? 1 : 0);
  for (let n = 0; n < cld.length; n += 37) assert.equal(loadContainer(cld.subarray(0, n), 'test.cld').files.length, 0);
});

test('loadContainer refuses a header full of garbage', () => {
  const garbage = new Uint8Array(4096);
  for (let i = 0; i < garbage.length; i++) garbage[i] = (i * 7919 + 13) & 0xff;
  assertRefused(loadContainer(garbage, 'x.cvd'), 'cvd.header.byte');
  assertRefused(loadContainer(container('MZ: this is not a database', new Uint8Array(100)), 'x.cvd'), 'cvd.header.magic', /x\.cvd: header does not start with 'ClamAV-VDB:'/);
  assertRefused(loadContainer(container('ClamAV-VDB:a:b', new Uint8Array(100)), 'x.cvd'), 'cvd.header.fields');
});

test('loadContainer refuses non-space bytes in the header padding', needData, () => {
  const b = readData('test-6.cvd');
  b[511] = 0x00;
  assertRefused(loadContainer(b, 'test-6.cvd'), 'cvd.header.byte', 'test-6.cvd: header byte at offset 511 is 0x00; the header must be printable ASCII padded with spaces');
  b[511] = 0x2e;
  assertRefused(loadContainer(b, 'test-6.cvd'), 'cvd.header.padding', "test-6.cvd: header padding byte at offset 511 is '.'; the padding after the last field must be spaces");
});

test('loadContainer refuses a header MD5 that does not match the body', needData, () => {
  const b = readData('test-6.cvd');
  const at = Buffer.from(b.subarray(0, 512)).toString('latin1').indexOf('3e249e00');
  b[at] = 0x34; // '3' -> '4'
  assertRefused(loadContainer(b, 'test-6.cvd'), 'cvd.md5', 'test-6.cvd: the MD5 of the body (bytes 512..9951) is 3e249e00076b0b15bb54ced37be880c7, not 4e249e00076b0b15bb54ced37be880c7 as the header says');
});

test('loadContainer refuses a header signature that does not match the MD5', needData, () => {
  const six = readData('test-6.cvd');
  const text = Buffer.from(six.subarray(0, 512)).toString('latin1');
  const five = parseCvdHeader(readData('test-5.cvd')).header!;
  const swapped = text.replace(/:Dou6[^:]+:/, `:${five.dsig}:`);
  const b = Uint8Array.from(Buffer.concat([Buffer.from(swapped, 'latin1'), six.subarray(512)]));
  assertRefused(loadContainer(b, 'test-6.cvd'), 'cvd.dsig', 'test-6.cvd: digital signature does not match the header MD5');
});

test('loadContainer refuses a .cvd header that differs from its .info copy', needData, () => {
  // The header is outside the MD5, so change a field the signatures do not cover.
  const b = readData('test-6.cvd');
  const text = Buffer.from(b.subarray(0, 512)).toString('latin1');
  b.set(Buffer.from(text.replace(':micasnyd:', ':micasnyx:'), 'latin1'), 0);
  assertRefused(loadContainer(b, 'test-6.cvd'), 'cvd.info.header', "test-6.cvd: header builder 'micasnyx' differs from the one in test.info ('micasnyd')");
  b.set(Buffer.from(text.replace(':6:14:81:', ':7:14:81:'), 'latin1'), 0);
  assertRefused(loadContainer(b, 'test-6.cvd'), 'cvd.info.header', "test-6.cvd: header version '7' differs from the one in test.info ('6')");
});

test('loadContainer refuses a .cld whose .info was changed after signing', needData, () => {
  const ms = test6Members();
  const info = find(ms, 'test.info');
  info.data = utf(Buffer.from(info.data).toString('latin1').replace('test.cfg:44:', 'test.cfg:45:'));
  assertRefused(loadContainer(cldOf(ms), 'test.cld'), 'cvd.info.dsig', /^test\.cld: test\.info line 20: digital signature does not verify under the \.info DSIG key/);
});

test('loadContainer refuses a .cld whose .info has no DSIG line unless unsigned containers are allowed', needData, () => {
  const ms = test6Members();
  const info = find(ms, 'test.info');
  const text = Buffer.from(info.data).toString('latin1');
  info.data = utf(text.slice(0, text.indexOf('DSIG:')));
  assertRefused(loadContainer(cldOf(ms), 'test.cld'), 'cvd.info.dsig', 'test.cld: test.info has no DSIG line (its digital signature)');
  const r = loadContainer(cldOf(ms), 'test.cld', { allowUnsigned: true });
  assertLoaded(r, false);
  assert.ok(r.diagnostics.some((d) => d.code === 'cvd.unsigned' && d.severity === 'warning'));
});

test('loadContainer refuses anything after the DSIG line of the .info', needData, () => {
  const ms = test6Members();
  const info = find(ms, 'test.info');
  info.data = Uint8Array.from(Buffer.concat([info.data, Buffer.from('extra.ndb:1:' + '0'.repeat(64) + '\n')]));
  assertRefused(loadContainer(cldOf(ms), 'test.cld'), 'cvd.info.format', 'test.cld: test.info line 21 follows the DSIG line, which must be the last');
});

test('loadContainer refuses a member missing from the .info', needData, () => {
  const ms = test6Members();
  ms.push({ name: 'extra.ndb', data: utf('Extra.Sig:0:*:414243\n') });
  assertRefused(loadContainer(cldOf(ms), 'test.cld'), 'cvd.member.unlisted', 'test.cld: extra.ndb is not listed in test.info');
});

test('loadContainer refuses a member whose size differs from the .info', needData, () => {
  const ms = test6Members();
  const ndb = find(ms, 'test.ndb');
  ndb.data = Uint8Array.from(Buffer.concat([ndb.data, Buffer.from('X')]));
  assertRefused(loadContainer(cldOf(ms), 'test.cld'), 'cvd.member.size', 'test.cld: test.ndb: size 672 differs from the one in test.info (671)');
});

test('loadContainer refuses a member whose SHA-256 differs from the .info', needData, () => {
  const ms = test6Members();
  const ndb = find(ms, 'test.ndb').data;
  ndb[10] = ndb[10]! ^ 1;
  assertRefused(loadContainer(cldOf(ms), 'test.cld'), 'cvd.member.sha256', /^test\.cld: test\.ndb: SHA-256 differs from the one in test\.info \(found [0-9a-f]{64}, listed eb9bed3c/);
});

test('loadContainer refuses a container missing a file its .info lists', needData, () => {
  const ms = test6Members().filter((m) => m.name !== 'test.fp');
  assertRefused(loadContainer(cldOf(ms), 'test.cld'), 'cvd.member.missing', 'test.cld: test.fp is listed in test.info (line 16) but missing from the container');
});

test('loadContainer refuses a tar entry that is not a regular file', needData, () => {
  for (const [flag, type] of [['5', 'directory'], ['2', 'symlink'], ['7', 'contiguous'], ['1', 'hardlink']] as const) {
    const ms = test6Members();
    ms.splice(2, 0, { name: 'thing', data: new Uint8Array(0), typeflag: flag });
    assertRefused(loadContainer(cldOf(ms), 'test.cld'), 'cvd.member.type', new RegExp(`^test\\.cld: tar entry 'thing' at offset 21504 is a ${type} \\(typeflag "${flag}"\\); a ClamAV container holds regular files only$`));
  }
});

test('loadContainer refuses a slash in a member name', needData, () => {
  const ms = test6Members();
  find(ms, 'test.ndb').name = 'sub/test.ndb';
  assertRefused(loadContainer(cldOf(ms), 'test.cld'), 'cvd.member.name', /^test\.cld: tar entry 'sub\/test\.ndb' at offset \d+: slash separators are not allowed/);
});

test('loadContainer refuses a member name that appears twice', needData, () => {
  const ms = test6Members();
  ms.push({ ...find(ms, 'test.ndb') });
  assertRefused(loadContainer(cldOf(ms), 'test.cld'), 'cvd.member.duplicate');
});

test('loadContainer refuses two .info members', needData, () => {
  const ms = test6Members();
  ms.push({ name: 'other.info', data: find(ms, 'test.info').data });
  assertRefused(loadContainer(cldOf(ms), 'test.cld'), 'cvd.info.multiple');
});

test('loadContainer refuses a tar with a bad header checksum, non-zero padding or trailing data', needData, () => {
  const cld = cldOf(test6Members());
  const badSum = Uint8Array.from(cld);
  badSum[512 + 150] = badSum[512 + 150]! ^ 1;
  assertRefused(loadContainer(badSum, 'test.cld'), 'tar.bad-checksum');
  const badPad = Uint8Array.from(cld);
  badPad[512 + 512 + 17992 + 3] = 1;
  assertRefused(loadContainer(badPad, 'test.cld'), 'tar.nonzero-padding');
  const trailing = Uint8Array.from(Buffer.concat([cld, new Uint8Array(1024), Buffer.from('x')]));
  assertRefused(loadContainer(trailing, 'test.cld'), 'tar.trailing-data');
});

test('loadContainer refuses data after the gzip stream, and a second gzip member', () => {
  const cud = cudOf([{ name: 'a.hdb', data: utf('x') }], { md5: false });
  assertRefused(loadContainer(Uint8Array.from(Buffer.concat([cud, Buffer.from('junk')])), 'a.cud'), 'cvd.gzip', /4 bytes follow the end of the gzip stream \(trailing data/);
  assertRefused(loadContainer(Uint8Array.from(Buffer.concat([cud, gzipSync(new Uint8Array(1024))])), 'a.cud'), 'cvd.gzip', /a second gzip member/);
  const badCrc = Uint8Array.from(cud);
  badCrc[badCrc.length - 6] = badCrc[badCrc.length - 6]! ^ 1;
  assertRefused(loadContainer(badCrc, 'a.cud'), 'cvd.gzip', /CRC-32/);
});

test('loadContainer refuses a body that unpacks beyond the size bound', () => {
  const cud = cudOf([{ name: 'a.hdb', data: new Uint8Array(100000) }], { md5: false });
  assertRefused(loadContainer(cud, 'a.cud', { maxUnpackedBytes: 50000 }), 'cvd.body.too-large', /unpacks to more than 50000 bytes/);
  assertLoaded(loadContainer(cud, 'a.cud', { maxUnpackedBytes: 200000 }), false);
});

test('loadContainer refuses a .cud whose header MD5 is present but wrong', () => {
  const cud = cudOf([{ name: 'a.hdb', data: utf('x') }]);
  const text = Buffer.from(cud.subarray(0, 512)).toString('latin1');
  const i = text.indexOf(':216:') + 5;
  cud[i] = cud[i] === 0x30 ? 0x31 : 0x30;
  assertRefused(loadContainer(cud, 'a.cud'), 'cvd.md5');
});
