/**
 * Mail layers: `vigil scan` against `clamscan` on seeded e-mail — base64 (bad characters, missing
 * padding, odd line widths), quoted-printable and uuencoded payloads, unencoded named parts,
 * multipart/alternative, /related and /signed, nested multiparts, message/rfc822 inside mail,
 * malformed boundaries (missing end, one dash short, trailing blanks, upper case), TNEF and BinHex
 * inside mail, mbox files of several messages, mail inside ZIP, truncated mails, and uuencoded,
 * BinHex and TNEF files on their own; plus messages made by Python's email package. Each payload
 * is detected by a body signature (a planted mark) or by the MD5 of its bytes.
 *
 * ClamAV scans some extracted parts as it writes them and leaves others in a work directory
 * scanned afterwards in directory order, which is not reproducible; files where more than one
 * payload is detectable are therefore compared with `--allmatch` only, the others in default mode
 * too (and MaxFiles, whose cut falls in that directory, is not compared). Skips with a message
 * when clamscan 1.4 is absent.
 */
import { test } from 'node:test';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Prng } from '../helpers/prng.js';
import { buildZip } from '../helpers/zip-writer.js';
import { CLAMSCAN_SKIP } from '../helpers/clamscan-run.js';
import { compareLayers, MARKS } from './layers-diff.js';

const SEED = process.env['VIGIL_DIFF_SEED'] ?? '20261129';
const HAVE_PYTHON = spawnSync('python3', ['-c', 'import email'], { encoding: 'utf8' }).status === 0;

const i8 = (rng: Prng): string => String(rng.int(0, 99));
const md5 = (b: Uint8Array): string => createHash('md5').update(b).digest('hex');
const latin1 = (b: Uint8Array): string => Buffer.from(b).toString('latin1');

/** One generated file: its bytes and how many payloads in it can be detected. */
interface Made { name: string; bytes: Uint8Array; detectable: number }

/** Generates mail-family files; `hashes` collects the MD5 lines of payloads detected by hash. */
class MailGen {
  detectable = 0;
  constructor(readonly rng: Prng, readonly hashes: string[]) {}

  /** Random bytes, with a planted mark or a recorded hash (never both), or clean. */
  payload(text = false): Uint8Array {
    const rng = this.rng;
    const fill = (n: number): Uint8Array => (text ? Buffer.from(rng.word(n, n + 1).replace(/(.{1,40})/g, '$1 ').trim(), 'latin1') : rng.bytes(n));
    const parts: Uint8Array[] = [fill(rng.int(8, 600))];
    const r = rng.float();
    if (r < 0.4) parts.push(Buffer.from(rng.pick(MARKS), 'latin1'), fill(rng.int(0, 300)));
    const data = Buffer.concat(parts);
    if (r < 0.4) this.detectable++;
    else if (r < 0.6 && data.length > 5) {
      this.hashes.push(`${md5(data)}:${data.length}:Mail.Hash.${this.hashes.length}`);
      this.detectable++;
    }
    return data;
  }

  base64(data: Uint8Array): string {
    const rng = this.rng;
    let s = Buffer.from(data).toString('base64');
    const kind = rng.int(0, 6);
    if (kind === 0) s = s.replace(/=+$/, '');
    const width = rng.pick([76, 64, 72, 60, 200]);
    let lines: string[] = s.match(new RegExp(`.{1,${width}}`, 'g')) ?? [''];
    if (kind === 1) lines = lines.map((l) => `${l.slice(0, 9)}!*~${l.slice(9)}`);
    if (kind === 2) lines = lines.map((l) => `${l} `);
    return `${lines.join('\n')}\n`;
  }

  qp(data: Uint8Array): string {
    let out = '';
    let line = '';
    for (const b of data) {
      const c = b >= 33 && b <= 126 && b !== 61 ? String.fromCharCode(b) : `=${b.toString(16).toUpperCase().padStart(2, '0')}`;
      if (line.length + c.length > 72) { out += `${line}=\n`; line = ''; }
      line += c;
    }
    return `${out}${line}\n`;
  }

  uu(data: Uint8Array, name: string): string {
    const ch = (v: number): string => (v === 0 ? '`' : String.fromCharCode(v + 32));
    let s = `begin 644 ${name}\n`;
    for (let i = 0; i < data.length; i += 45) {
      const l = data.subarray(i, i + 45);
      s += ch(l.length);
      for (let k = 0; k < l.length; k += 3) {
        const a = l[k]!, b = l[k + 1] ?? 0, c = l[k + 2] ?? 0;
        s += ch(a >> 2) + ch(((a << 4) | (b >> 4)) & 63) + ch(((b << 2) | (c >> 6)) & 63) + ch(c & 63);
      }
      s += '\n';
    }
    return `${s}\`\nend\n`;
  }

  binhex(name: string, data: Uint8Array): string {
    const ALPHA = '!"#$%&\'()*+,-012345689@ABCDEFGHIJKLMNPQRSTUVXYZ[`abcdefhijklmpqr';
    const crc = (d: Uint8Array): number => {
      let c = 0;
      for (const b of [...d, 0, 0]) {
        c ^= b << 8;
        for (let k = 0; k < 8; k++) c = (c & 0x8000 ? (c << 1) ^ 0x1021 : c << 1) & 0xffff;
      }
      return c;
    };
    const fork = (d: Uint8Array): Buffer => Buffer.concat([d, Buffer.from([crc(d) >> 8, crc(d) & 255])]);
    const hdr = Buffer.concat([Buffer.from([name.length]), Buffer.from(name), Buffer.alloc(19)]);
    hdr.writeUInt32BE(data.length, hdr.length - 10);
    const raw = Buffer.concat([fork(hdr), fork(data), fork(new Uint8Array(0))]);
    const rle: number[] = [];
    for (const b of raw) { rle.push(b); if (b === 0x90) rle.push(0); }
    let bits = rle.map((b) => b.toString(2).padStart(8, '0')).join('');
    bits += '0'.repeat((6 - (bits.length % 6)) % 6);
    let s = '';
    for (let i = 0; i < bits.length; i += 6) s += ALPHA[parseInt(bits.slice(i, i + 6), 2)];
    return `(This file must be converted with BinHex 4.0)\n:${(s.match(/.{1,64}/g) ?? []).join('\n')}:\n`;
  }

  tnef(atts: { name: string; data: Uint8Array }[]): Buffer {
    const rec = (level: number, tag: number, type: number, data: Uint8Array): Buffer => {
      const h = Buffer.alloc(9);
      h[0] = level;
      h.writeUInt32LE(((type << 16) | tag) >>> 0, 1);
      h.writeUInt32LE(data.length, 5);
      let sum = 0;
      for (const b of data) sum = (sum + b) & 0xffff;
      return Buffer.concat([h, data, Buffer.from([sum & 255, sum >> 8])]);
    };
    const parts: Buffer[] = [Buffer.from([0x78, 0x9f, 0x3e, 0x22, 0x01, 0x00]), rec(1, 0x8008, 7, Buffer.from('IPM.Note\0'))];
    atts.forEach((a, i) => {
      if (i > 0) parts.push(rec(1, 0x8020, 3, Buffer.alloc(14)));
      parts.push(rec(2, 0x8010, 1, Buffer.from(`${a.name}\0`)), rec(2, 0x800f, 6, a.data));
    });
    return Buffer.concat(parts);
  }

  /** yEnc lines (critical characters escaped). */
  yenc(data: Uint8Array): string {
    let s = '';
    let n = 0;
    for (const b of data) {
      const c = (b + 42) & 255;
      s += [0, 10, 13, 61].includes(c) ? `=${String.fromCharCode((c + 64) & 255)}` : String.fromCharCode(c);
      if (++n % 100 === 0) s += '\n';
    }
    return `${s}\n`;
  }

  /** One MIME leaf part (headers, empty line, body). */
  leaf(depth: number): string {
    const rng = this.rng;
    const name = rng.pick(['a.bin', 'report.pdf', 'x y.exe', 'f.dat']);
    switch (rng.int(0, 11)) {
      case 0: return `Content-Type: text/plain; charset=us-ascii\n\n${latin1(this.payload(true))}\n`;
      case 1: return `Content-Type: text/html\nContent-Transfer-Encoding: quoted-printable\n\n${this.qp(this.payload())}`;
      case 2: return `Content-Type: application/octet-stream; name="${name}"\nContent-Transfer-Encoding: base64\nContent-Disposition: attachment; filename="${name}"\n\n${this.base64(this.payload())}`;
      case 3: return `Content-Type: application/x-msdownload\nContent-Transfer-Encoding: ${rng.pick(['base64', 'BASE64', 'bse64'])}\n\n${this.base64(this.payload())}`;
      case 4: return `Content-Type: text/plain\n\nsee the file:\n${this.uu(this.payload(), name.replace(' ', '_'))}thanks\n`;
      case 5: return `Content-Type: application/octet-stream; name=${name.replace(' ', '_')}\n\n${latin1(this.payload(true))}\n`;
      case 6: return `Content-Type: application/ms-tnef; name="winmail.dat"\nContent-Transfer-Encoding: base64\n\n${this.base64(this.tnef([{ name: 'doc.exe', data: this.payload() }, { name: 'b.bin', data: this.payload() }]))}`;
      case 7: return `Content-Type: application/mac-binhex40\n\n${this.binhex('h.bin', this.payload())}`;
      case 8:
        if (depth < 2) return `Content-Type: message/rfc822\n\n${this.message(depth + 1, true)}`;
        if (rng.chance(0.5)) return `Content-Type: application/octet-stream;\n filename*=utf-8''na%C3%AFve%20${i8(rng)}.bin\n\n${latin1(this.payload(true))}\n`;
        return `Content-Type: image/gif\nContent-Transfer-Encoding: base64\n\n${this.base64(this.payload())}`;
      case 9:
        if (depth < 3) return this.multipart(depth + 1);
        return `Content-Type: audio/x-wav\nContent-Transfer-Encoding: base64\n\n${this.base64(this.payload())}`;
      case 10: return `Content-Type: application/octet-stream; name=y.bin\n\nintro\n=ybegin line=128 name=y.bin\n${this.yenc(this.payload())}=yend size=1\n`;
      default: return `Content-Type: application/octet-stream\nContent-Transfer-Encoding: quoted-printable\n\n${this.qp(this.payload())}`;
    }
  }

  /** A multipart entity, with the boundary quirks ClamAV tolerates. */
  multipart(depth: number): string {
    const rng = this.rng;
    const b = rng.pick(['----=_NextPart_000_0012', 'simple', '=_b1', 'AaB03x', 'b with space']);
    const sub = rng.pick(['mixed', 'mixed', 'alternative', 'related', 'signed', 'digest', 'x-unknown']);
    const q = b.includes(' ') || rng.chance(0.6) ? `"${b}"` : b;
    const fold = rng.chance(0.3) ? ';\n\tboundary=' : '; boundary=';
    let body = rng.pick(['', 'This is a multi-part message in MIME format.\n', '\n']);
    for (let n = rng.int(1, 4); n > 0; n--) {
      const r = rng.float();
      const delim = r < 0.05 ? `-${b}` : r < 0.1 ? `--${b}   ` : `--${b}`;
      body += `${delim}\n${this.leaf(depth)}\n`;
    }
    const end = rng.float();
    if (end < 0.75) body += `--${b}--\n`;
    else if (end < 0.85) body += `--${b}--\nepilogue ${rng.word(3, 9)}\n`;
    return `Content-Type: multipart/${sub}${fold}${q}\n\n${body}`;
  }

  message(depth = 0, encodedInner = false): string {
    const rng = this.rng;
    const heads = rng.shuffle(['From: alice@example.com', 'To: bob@example.com', 'Subject: report', 'Date: Mon, 1 Jan 2024 10:00:00 +0000', 'MIME-Version: 1.0']);
    const hs = heads.slice(0, rng.int(1, heads.length)).join('\n');
    if (encodedInner) {
      // a nested message is scanned by ClamAV only when its text carries a transfer encoding
      const data = this.payload();
      return `${hs}\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n${this.base64(data)}`;
    }
    return `${hs}\n${rng.chance(0.8) ? this.multipart(depth) : this.leaf(depth)}`;
  }

  /** One file of the mail family. */
  file(i: number): Made {
    const rng = this.rng;
    this.detectable = 0;
    let name = `m${String(i).padStart(3, '0')}.eml`;
    let bytes: Uint8Array;
    const kind = rng.float();
    if (kind < 0.08) {
      name = `u${i}.uu`;
      bytes = Buffer.from(this.uu(this.payload(), 'f.bin'), 'latin1');
    } else if (kind < 0.14) {
      name = `b${i}.hqx`;
      bytes = Buffer.from(this.binhex('f.bin', this.payload()), 'latin1');
    } else if (kind < 0.2) {
      name = `t${i}.dat`;
      bytes = this.tnef([{ name: 'a.exe', data: this.payload() }]);
    } else if (kind < 0.28) {
      const msgs = Array.from({ length: rng.int(2, 3) }, () => this.message());
      bytes = Buffer.from(msgs.map((m) => `From sender@example.com Mon Jan  1 10:00:00 2024\n${m}\n\n`).join(''), 'latin1');
    } else if (kind < 0.36) {
      name = `z${i}.zip`;
      const mail = Buffer.from(this.message(), 'latin1');
      bytes = buildZip([{ name: 'mail.eml', data: mail, method: rng.pick([0, 8]) }, { name: 'note.txt', data: 'nothing here' }]).bytes;
    } else {
      let text = this.message();
      const r = rng.float();
      if (r < 0.12) text = text.replace(/\n/g, '\r\n');
      else if (r < 0.17) text = text.replace(/\n/g, '\r');
      else if (r < 0.22) text = `\n\n${text}`;
      else if (r < 0.27) text = text.replace(/\n\n/, '\n  \n\t\n\n');
      else if (r < 0.3) text = text.replace('; boundary=', ';\nboundary=');
      else if (r < 0.33) text = `From: x@example.com\nContent-Type: message/external-body\n\n${text}`;
      bytes = Buffer.from(text, 'latin1');
      if (rng.chance(0.12)) bytes = bytes.subarray(0, rng.int(40, bytes.length));
    }
    return { name, bytes, detectable: this.detectable };
  }
}

/** Messages made by Python's email package: attachments, nesting, alternatives; one JSON line per file. */
const PYTHON = String.raw`
import sys, os, json, random, hashlib
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.mime.base import MIMEBase
from email.mime.application import MIMEApplication
from email.mime.message import MIMEMessage
from email import encoders, policy
out, seed, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
marks = json.loads(sys.argv[4])
rng = random.Random(seed)
for i in range(n):
    hashes = []; det = [0]
    def payload():
        b = bytes(rng.getrandbits(8) for _ in range(rng.randint(10, 700)))
        r = rng.random()
        if r < 0.4:
            b += rng.choice(marks).encode() + bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 200))); det[0] += 1
        elif r < 0.6:
            hashes.append('%s:%d' % (hashlib.md5(b).hexdigest(), len(b))); det[0] += 1
        return b
    def part(depth):
        k = rng.randint(0, 5)
        if k == 0: return MIMEText('hello %d\n' % rng.randint(0, 99))
        if k == 1:
            p = MIMEApplication(payload(), 'octet-stream'); p.add_header('Content-Disposition', 'attachment', filename='f%d.bin' % rng.randint(0, 9)); return p
        if k == 2:
            p = MIMEBase('application', 'x-data'); p.set_payload(payload()); encoders.encode_quopri(p); return p
        if k == 3 and depth < 2:
            m = MIMEMultipart(rng.choice(['alternative', 'mixed', 'related']))
            for _ in range(rng.randint(1, 3)): m.attach(part(depth + 1))
            return m
        if k == 4 and depth < 2:
            inner = MIMEMultipart('mixed'); inner['From'] = 'x@example.com'; inner.attach(MIMEApplication(payload()))
            return MIMEMessage(inner)
        p = MIMEBase('image', 'png'); p.set_payload(payload()); encoders.encode_base64(p); return p
    m = MIMEMultipart(rng.choice(['mixed', 'alternative']))
    m['From'] = 'a@example.com'; m['To'] = 'b@example.com'; m['Subject'] = 'n%d' % i
    for _ in range(rng.randint(1, 4)): m.attach(part(0))
    name = 'p%03d.eml' % i
    open(os.path.join(out, name), 'wb').write(m.as_bytes(policy=policy.compat32))
    print(json.dumps({'name': name, 'hashes': hashes, 'detectable': det[0]}))
`;

test(`mail layers: vigil scan prints clamscan's lines (seed ${SEED})`, { skip: CLAMSCAN_SKIP, timeout: 600_000 }, async (t) => {
  const rng = new Prng(SEED);
  const one = mkdtempSync(join(tmpdir(), 'vigil-clam-mail-'));
  const many = mkdtempSync(join(tmpdir(), 'vigil-clam-mail-all-'));
  mkdirSync(join(one, 'data'));
  mkdirSync(join(many, 'data'));
  const hashes: string[] = [];
  const gen = new MailGen(rng, hashes);
  let counts = { one: 0, many: 0 };
  const put = (made: Made): void => {
    // a file with several detectable payloads: its FOUND line in default mode depends on directory order
    const where = made.detectable <= 1 ? one : many;
    writeFileSync(join(where, 'data', made.name), made.bytes);
    counts = made.detectable <= 1 ? { ...counts, one: counts.one + 1 } : { ...counts, many: counts.many + 1 };
  };
  for (let i = 0; i < 140; i++) put(gen.file(i));
  if (HAVE_PYTHON) {
    const pyDir = mkdtempSync(join(tmpdir(), 'vigil-clam-mail-py-'));
    const r = spawnSync('python3', ['-c', PYTHON, pyDir, String(rng.seed), '40', JSON.stringify(MARKS)], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(r.stderr);
    for (const line of r.stdout.trim().split('\n')) {
      const j = JSON.parse(line) as { name: string; hashes: string[]; detectable: number };
      j.hashes.forEach((h, k) => hashes.push(`${h}:Py.Hash.${j.name}.${k}`));
      put({ name: j.name, bytes: readFileSync(join(pyDir, j.name)), detectable: j.detectable });
    }
  } else t.diagnostic('python3 is not installed: messages from its email package left out');
  t.diagnostic(`files: ${counts.one} with at most one detectable payload, ${counts.many} with several (${readdirSync(join(many, 'data')).length} compared with --allmatch only)`);
  // MaxFiles is left out: which of the directory's files fit under it depends on directory order too
  await compareLayers(t, one, hashes, [[], ['--allmatch'], ['--allmatch', '--max-recursion=3']]);
  await compareLayers(t, many, hashes, [['--allmatch'], ['--allmatch', '--alert-exceeds-max', '--max-recursion=4']]);
});
