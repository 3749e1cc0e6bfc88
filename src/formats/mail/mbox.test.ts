import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isChild, isLimited, type UnpackContext, type UnpackItem } from '../unpack.js';
import { readMail, unpackMail, boundaryStart, boundaryEnd } from './mbox.js';
import { Bytes, decodeLine, flushBase64, Message, simil } from './message.js';
import { mailFoundInText } from './index.js';
import { detectFileType } from '../filetype.js';

const ctx = (maxFileSize = 100 << 20, maxFiles = 10000): UnpackContext => ({
  limits: { maxFileSize, maxFiles, maxScanSize: 0 },
  options: { heuristicAlerts: true, alertEncryptedArchive: false, alertEncryptedDoc: false, alertMacros: false },
});
const enc = (s: string): Uint8Array => Buffer.from(s, 'latin1');
const str = (b: Uint8Array): string => Buffer.from(b).toString('latin1');
const children = (bytes: Uint8Array, c = ctx()): UnpackItem[] => [...unpackMail(bytes, c)];
const datas = (bytes: Uint8Array, c = ctx()): string[] => children(bytes, c).filter(isChild).map((i) => str(i.data));

/** A deterministic byte generator (xorshift32). */
function prng(seed: number): (n: number) => Uint8Array {
  let x = seed >>> 0 || 1;
  return (n) => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
      out[i] = x & 0xff;
    }
    return out;
  };
}

const python = spawnSync('python3', ['-c', 'import email'], { encoding: 'utf8' }).status === 0;
const hasUuencode = spawnSync('uuencode', ['--version'], { encoding: 'utf8' }).status === 0;

/** Runs a Python snippet that writes a message to argv[1]; the message's bytes. */
function pyMail(code: string): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-mail-'));
  const out = join(dir, 'm.eml');
  const r = spawnSync('python3', ['-c', code, out], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return readFileSync(out);
}

test('a message built by Python: the text body and each decoded attachment, in order', { skip: python ? false : 'python3 is not installed' }, () => {
  const bin = Buffer.from(prng(1)(700));
  const dir = mkdtempSync(join(tmpdir(), 'vigil-mail-'));
  writeFileSync(join(dir, 'a.bin'), bin);
  const mail = pyMail(`
import sys
from email.message import EmailMessage
m = EmailMessage()
m['From'] = 'a@example.com'; m['To'] = 'b@example.com'; m['Subject'] = 'hi'
m.set_content('Hello\\nsecond line\\n')
m.add_attachment(open(${JSON.stringify(join(dir, 'a.bin'))}, 'rb').read(), maintype='application', subtype='octet-stream', filename='a.bin')
m.add_attachment(b'caf\\xe9 = ok\\n' * 30, maintype='application', subtype='x-qp', filename='q.txt', cte='quoted-printable')
open(sys.argv[1], 'wb').write(bytes(m))
`);
  const r = readMail(mail, ctx());
  assert.equal(r.status, 'OK');
  // the text part (7bit, no name) is scanned at once, as text; the attachments decoded
  assert.deepEqual(r.now.map((c) => c.name), ['attachment', 'a.bin', 'q.txt']);
  // the empty line before a boundary stays in the part, as in ClamAV
  assert.equal(str(r.now[0]!.data), 'Hello\nsecond line\n\n');
  assert.deepEqual(Buffer.from(r.now[1]!.data), bin);
  assert.equal(str(r.now[2]!.data), `${'caf\xe9 = ok\n'.repeat(30)}\n`);
  assert.equal(r.dir.length, 0);
});

test('a single-part message: its body (headers left out) is one child; repeated empty lines merged outside text/plain', () => {
  assert.deepEqual(datas(enc('From: a@b\nSubject: x\n\nline one\n\n\nline four\n')), ['line one\n\nline four\n']);
  assert.deepEqual(datas(enc('From: a@b\nContent-Type: text/plain\n\nline one\n\n\nline four\n')), ['line one\n\n\nline four\n']);
});

test('base64 is decoded across lines, with bad characters skipped and missing padding tolerated', () => {
  const data = Buffer.from(prng(2)(301));
  const b64 = data.toString('base64').replace(/=+$/, '');
  const lines = b64.match(/.{1,50}/g)!.map((l, i) => (i === 2 ? `${l.slice(0, 7)}!*${l.slice(7)}` : l));
  const mail = enc(`From: a@b\nContent-Type: application/octet-stream; name=x\nContent-Transfer-Encoding: base64\n\n${lines.join('\n')}\n`);
  const kids = children(mail).filter(isChild);
  assert.equal(kids.length, 1);
  assert.deepEqual(Buffer.from(kids[0]!.data), data);
});

test('base64 quirks: text after "=" on a line is dropped, a lone trailing character becomes a byte', () => {
  const m = new Message();
  const out = new Bytes(1000);
  decodeLine(m, 'BASE64', 'QUJD=REVG', out);
  decodeLine(m, 'BASE64', 'RA', out);
  flushBase64(m, out);
  assert.equal(str(out.view()), 'ABCD');
  const m2 = new Message();
  const o2 = new Bytes(100);
  decodeLine(m2, 'BASE64', 'QUJDR', o2);
  flushBase64(m2, o2);
  assert.deepEqual([...o2.view()], [0x41, 0x42, 0x43, 0x44]);
});

test('quoted-printable: soft breaks, lower-case hex, bad escapes kept as ClamAV keeps them', () => {
  const m = new Message();
  const out = new Bytes(1000);
  for (const l of ['a=3Db=', 'c=3d', '=ZZ', 'x=4', null]) decodeLine(m, 'QUOTEDPRINTABLE', l, out);
  assert.deepEqual([...out.view()], [...Buffer.from('a=bc=\n=ZZ\nx', 'latin1'), 4, 0x0a, 0x0a]);
});

test('a named part without a transfer encoding: its text left for the directory scan, then base64 tried on it', () => {
  const mail = enc('From: a@b\nContent-Type: multipart/mixed; boundary=XX\n\n--XX\nContent-Type: application/octet-stream; name="n.bin"\n\nQUJDRA==\n--XX--\n');
  const r = readMail(mail, ctx());
  assert.deepEqual(r.now.map((c) => str(c.data)), ['ABCD']);
  assert.deepEqual(r.dir.map((c) => str(c.data)), ['QUJDRA==\n']);
  // the directory's files come after the parts scanned at once
  assert.deepEqual(datas(mail), ['ABCD', 'QUJDRA==\n']);
});

test('nested messages: message/rfc822 is saved only when its text carries a transfer encoding', () => {
  const inner = 'From: c@d\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\nQUJDRA==\n';
  const outer = (body: string): Uint8Array => enc(`From: a@b\nContent-Type: multipart/mixed; boundary="b"\n\n--b\nContent-Type: message/rfc822\n\n${body}\n--b--\n`);
  assert.deepEqual(datas(outer(inner)), [`${inner}\n`]);
  assert.deepEqual(datas(outer('From: c@d\nSubject: plain\n\ntext only\n')), []);
});

test('a multipart whose end boundary is missing still gives its parts; text after the end boundary is a part too', () => {
  const open = enc('From: a@b\nContent-Type: multipart/mixed; boundary=q\n\n--q\nContent-Type: application/x-a\nContent-Transfer-Encoding: base64\n\nQUJD\n--q\nContent-Type: application/x-b\nContent-Transfer-Encoding: base64\n\nREVG\n');
  assert.deepEqual(datas(open), ['ABC', 'DEF']);
  const epilogue = enc('From: a@b\nContent-Type: multipart/mixed; boundary=q\n\n--q\nContent-Type: application/x-a\nContent-Transfer-Encoding: base64\n\nQUJD\n--q--\nepilogue words here\n');
  assert.deepEqual(datas(epilogue), ['ABC', 'epilogue words here\n']);
});

test('boundaries are matched loosely, as ClamAV does', () => {
  assert.ok(boundaryStart('--simple', 'simple'));
  assert.ok(boundaryStart('--simple  ', 'simple'));
  assert.ok(boundaryStart('---simple', 'simple'));
  assert.ok(boundaryStart('--(c)x', '(c)x'));
  assert.ok(!boundaryStart('--simple--', 'simple'));
  assert.ok(!boundaryStart('simple', 'simple'));
  assert.ok(boundaryEnd('--simple--', 'simple'));
  assert.ok(boundaryEnd('--SIMPLE-- trailing', 'simple'));
  assert.ok(!boundaryEnd('--simple-', 'simple'));
});

test('an mbox: every message is read, split at "From " lines after an empty line', () => {
  const msg = (s: string): string => `From x@y Mon Jan  1 00:00:00 2024\nFrom: a@b\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n${Buffer.from(s).toString('base64')}\n\n`;
  assert.deepEqual(datas(enc(msg('first!') + msg('second') + msg('third.'))), ['first!', 'second', 'third.']);
});

test('uuencoded data in a body becomes a child (uuencode from sharutils)', { skip: hasUuencode ? false : 'uuencode (sharutils) is not installed' }, () => {
  const data = Buffer.from(prng(3)(500));
  const dir = mkdtempSync(join(tmpdir(), 'vigil-mail-'));
  writeFileSync(join(dir, 'u.bin'), data);
  const uu = spawnSync('uuencode', [join(dir, 'u.bin'), 'u.bin'], { encoding: 'latin1' }).stdout;
  const r = readMail(enc(`From: a@b\nSubject: s\n\nsee below\n${uu}after\n`), ctx());
  assert.deepEqual(r.dir.map((c) => c.name), ['u.bin', 'textportion']);
  assert.deepEqual(Buffer.from(r.dir[0]!.data), data);
  // decoding stops at the "`" line, so "end" stays in the text
  assert.equal(str(r.dir[1]!.data), 'see below\nend\nafter\n');
});

test('a BinHex part is passed on as text (read again as BinHex when it starts with the banner)', () => {
  const hqx = '(This file must be converted with BinHex 4.0)\n:abc:\n';
  const part = (ct: string, body: string): Uint8Array => enc(`From: a@b\nContent-Type: multipart/mixed; boundary=z\n\n--z\n${ct}\n${body}--z--\n`);
  assert.deepEqual(datas(part('Content-Type: application/mac-binhex40\n', hqx)), [`${hqx}`]);
  // a banner further down a text part stays text; a part with no header line has no body at all
  assert.deepEqual(datas(part('Content-Type: text/plain\n', `intro\n${hqx}`)), [`intro\n${hqx}`]);
  assert.deepEqual(datas(part('', hqx)), []);
});

test('MaxRecursion: parts nested deeper than ClamAV follows end the reading and drop the directory', () => {
  let body = 'Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\nQUJD\n';
  for (let d = 0; d < 20; d++) body = `Content-Type: multipart/mixed; boundary=b${d}\n\n--b${d}\n${body}--b${d}--\n`;
  const items = children(enc(`From: a@b\n${body}`));
  assert.ok(items.some((i) => isLimited(i) && i.limit === 'MaxRecursion'));
  assert.ok(!items.some(isChild));
});

test('MaxFileSize: a decoded part over the limit is reported, not given', () => {
  const big = Buffer.alloc(5000, 0x41).toString('base64').match(/.{1,76}/g)!.join('\n');
  const items = children(enc(`From: a@b\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n${big}\n`), ctx(1000));
  assert.deepEqual(items, [{ name: 'attachment', limit: 'MaxFileSize' }]);
});

test('an unsupported message/* type is a format error: the directory is not scanned', () => {
  const r = readMail(enc('From: a@b\nContent-Type: message/external-body\n\nbody text\n'), ctx());
  assert.equal(r.status, 'FORMAT');
  assert.deepEqual(datas(enc('From: a@b\nContent-Type: message/external-body\n\nbody text\n')), []);
});

test('misspelt MIME types and encodings are guessed by similarity', () => {
  assert.equal(simil('base64', 'BASE64'), 100);
  assert.ok(simil('bse64', 'base64') >= 50);
  const m = new Message();
  m.setEncoding('bse64');
  assert.deepEqual(m.encodings, ['BASE64']);
  const n = new Message();
  n.setEncoding('zz');
  assert.deepEqual(n.encodings, ['BASE64', 'QUOTEDPRINTABLE']);
  const t = new Message();
  assert.ok(t.setMimeType('applcation'));
  assert.equal(t.mimeType, 'APPLICATION');
});

test('truncation at every 7th byte: no throw, a prefix of the full reading', () => {
  const parts = ['QUJD', 'REVG', 'R0hJ'].map((b, i) => `--k\nContent-Type: application/x-${i}\nContent-Transfer-Encoding: base64\n\n${b}\n`);
  const mail = enc(`From: a@b\nContent-Type: multipart/mixed; boundary=k\n\n${parts.join('')}--k--\n`);
  for (let n = 0; n <= mail.length; n += 7) {
    const kids = datas(mail.subarray(0, n));
    assert.ok(kids.length <= 3);
  }
  assert.deepEqual(datas(mail), ['ABC', 'DEF', 'GHI']);
});

test('400 random mutations of mails: no throw, bounded time', () => {
  const rnd = prng(42);
  const seeds = [
    enc('From: a@b\nContent-Type: multipart/mixed; boundary="=_x"\n\n--=_x\nContent-Type: text/plain\n\nhello\n--=_x\nContent-Type: application/octet-stream; name=a\nContent-Transfer-Encoding: base64\n\nQUJDREVGR0g=\n--=_x\nContent-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\nFrom: q\n\nx\n--=_x--\n'),
    enc('From x Mon Jan  1 00:00:00 2024\nFrom: a\nContent-Type: multipart/related; boundary=r\n\n--r\nContent-Type: text/html\nContent-Transfer-Encoding: quoted-printable\n\n<b>=3D</b>=\n--r\nContent-Type: multipart/signed; boundary=s\n\n--s\n\nbegin 644 f\nM86)C\n`\nend\n--s--\n--r--\n'),
  ];
  const start = Date.now();
  for (let i = 0; i < 400; i++) {
    const b = Buffer.from(seeds[i % seeds.length]!);
    const r = rnd(8);
    for (let k = 0; k < 1 + (r[0]! % 6); k++) b[(r[k + 1]! * 131 + i * 17) % b.length] = rnd(1)[0]!;
    const cut = i % 3 === 0 ? b.subarray(0, (r[7]! * 7) % b.length) : b;
    assert.doesNotThrow(() => children(cut));
  }
  assert.ok(Date.now() - start < 20_000);
});

test('long lines, NUL bytes and a line without an end: bounded and no throw', () => {
  const long = `From: a@b\nContent-Type: text/plain\n\n${'x'.repeat(5000)}\0\0${'y'.repeat(3000)}`;
  const kids = datas(enc(long));
  assert.equal(kids.length, 1);
  // lines are cut at 999 bytes and NULs dropped, as ClamAV reads them
  assert.ok(kids[0]!.split('\n').every((l) => l.length <= 999));
  assert.ok(!kids[0]!.includes('\0'));
  const noNewline = Buffer.alloc(300_000, 0x41);
  noNewline.write('From: a@b\n\n', 0, 'latin1');
  const t0 = Date.now();
  children(noNewline);
  assert.ok(Date.now() - t0 < 5000);
});

test('MaxRecursion from the limits, when the engine gives it, bounds the nesting of parts', () => {
  let body = 'Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\nQUJD\n';
  for (let d = 0; d < 4; d++) body = `Content-Type: multipart/mixed; boundary=b${d}\n\n--b${d}\n${body}--b${d}--\n`;
  const mail = enc(`From: a@b\n${body}`);
  assert.deepEqual(datas(mail), ['ABC']);
  const c = ctx();
  const limited = { ...c, limits: { ...c.limits, maxRecursion: 2 } } as UnpackContext;
  assert.deepEqual(children(mail, limited), [{ name: 'mail', limit: 'MaxRecursion' }]);
});

test('yEnc after a "=ybegin" line is decoded when the part has a transfer encoding (escapes as ClamAV undoes them)', () => {
  const bytes = [0, 1, 2, 0xd6, 0xe0, 0xe3, 0x13, 250, 65, 66];
  let y = '';
  const want: number[] = [];
  for (const b of bytes) {
    const c = (b + 42) & 255;
    const escaped = [0, 10, 13, 61].includes(c);
    y += escaped ? `=${String.fromCharCode((c + 64) & 255)}` : String.fromCharCode(c);
    // ClamAV takes 64 off an escaped character but not the 42 every byte carries
    want.push(escaped ? c : b);
  }
  const data = Buffer.from(want);
  const mail = enc(`From: a@b\nContent-Type: multipart/mixed; boundary=z\n\n--z\nContent-Type: application/octet-stream; name=y.bin\n\nintro\n=ybegin line=128 size=10 name=y.bin\n${y}\n=yend size=10\n--z--\n`);
  const r = readMail(mail, ctx());
  assert.deepEqual(r.now.map((k) => [k.name, Buffer.from(k.data).equals(data)]), [['y.bin', true]]);
});

test('mailFoundInText: a text layer whose mail headers lie past the first 1024 bytes is read as mail', () => {
  const late = enc(`${'x'.repeat(1200)}\nFrom: a@b\nMIME-Version: 1.0\nContent-Type: text/plain\n\nbody\n`);
  assert.equal(detectFileType(late), 'CL_TYPE_TEXT_ASCII');
  assert.equal(mailFoundInText(late, 'CL_TYPE_TEXT_ASCII'), 'CL_TYPE_MHTML');
  assert.equal(mailFoundInText(enc('just some words\nand more\n'), 'CL_TYPE_TEXT_ASCII'), undefined);
  assert.equal(mailFoundInText(late, 'CL_TYPE_PDF'), undefined);
});

test('e-mail parser limits: reading stops at 1024 headers; with AlertExceedsMax the limit is an alert', () => {
  const att = 'Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\nQUJD\n';
  const many = enc(`From: a@b\n${'Content-Disposition: inline\n'.repeat(1100)}${att}`);
  assert.deepEqual(children(many), []);
  assert.deepEqual(datas(enc(`From: a@b\n${'Content-Disposition: inline\n'.repeat(10)}${att}`)), ['ABC']);
  const c = ctx();
  const alerting = { ...c, options: { ...c.options, alertExceedsMax: true } } as UnpackContext;
  assert.deepEqual(children(many, alerting), [{ alert: 'Heuristics.Limits.Exceeded.EmailHeaders' }]);
  const folds = enc(`From: a@b\n${att}${' x\n'.repeat(262_200)}`);
  assert.deepEqual(children(folds, alerting), [{ alert: 'Heuristics.Limits.Exceeded.EmailLineFoldCnt' }]);
  // without the option the reading just stops at the limit: the part is still given
  const kids = datas(folds);
  assert.ok(kids.length === 1 && kids[0]!.startsWith('ABC'));
});

test('the URL check export before saving changes the part as in ClamAV: a named text/html part is also tried as base64', () => {
  const mail = enc('From: a@b\nContent-Type: multipart/mixed; boundary=z\n\n--z\nContent-Type: text/html; name=page.html\n\n<html>QUJD hello</html>\n--z--\n');
  const r = readMail(mail, ctx());
  assert.deepEqual(r.dir.map((c) => str(c.data)), ['<html>QUJD hello</html>\n']);
  assert.equal(r.now.length, 1);
  assert.equal(r.now[0]!.data.length, 14);
});
