/**
 * A small PDF writer for tests: objects, streams under any filter chain, object streams, broken
 * lengths, incremental updates, and the encoders of the filters ClamAV decodes.
 *
 * In: object descriptions (number, dictionary text, optional stream bytes already encoded, how to
 * write /Length). Out: the bytes of a PDF with a header, the objects, an xref table and a trailer.
 * Used by the unit tests and the differential test against clamscan; not used by the scanner.
 */
import { createCipheriv, createHash } from 'node:crypto';
import { deflateSync } from 'node:zlib';
import { hashR6, rc4 } from './crypt.js';

export type LengthMode = 'exact' | 'indirect' | 'none' | 'short' | 'long' | 'zero';

export interface ObjectSpec {
  num: number;
  gen?: number;
  /** Dictionary entries without the brackets, e.g. `/Type /Catalog`; omitted for a bare body. */
  dict?: string;
  /** What follows the dictionary (or stands alone) for non-stream objects. */
  body?: string | Uint8Array;
  /** Stream data, already encoded. */
  stream?: Uint8Array;
  length?: LengthMode;
  /** Line end after `stream` (default LF). */
  streamEol?: string;
}

export interface PdfOptions {
  version?: string;
  /** Bytes before the header. */
  prefix?: Uint8Array;
  /** Extra trailer entries, e.g. `/Encrypt 9 0 R /ID [<...><...>]`. */
  trailer?: string;
  /** Leave out `endobj` of the last object and everything after (a truncated file). */
  noTrailer?: boolean;
}

const enc = (s: string | Uint8Array): Buffer => (typeof s === 'string' ? Buffer.from(s, 'latin1') : Buffer.from(s));

/** Writes a PDF; indirect lengths are written as extra objects numbered from 9000. */
export function buildPdf(objects: readonly ObjectSpec[], opts: PdfOptions = {}): Buffer {
  const parts: Buffer[] = [];
  let size = 0;
  const push = (b: Buffer): void => { parts.push(b); size += b.length; };
  if (opts.prefix) push(Buffer.from(opts.prefix));
  push(enc(`%PDF-${opts.version ?? '1.7'}\n%\xe2\xe3\xcf\xd3\n`));
  const offsets: [number, number][] = [];
  let extra = 9000;
  const pending: ObjectSpec[] = [];
  const writeObj = (o: ObjectSpec): void => {
    offsets.push([o.num, size]);
    push(enc(`${o.num} ${o.gen ?? 0} obj\n`));
    if (o.stream) {
      const n = o.stream.length;
      let len = '';
      switch (o.length ?? 'exact') {
        case 'exact': len = `/Length ${n}`; break;
        case 'short': len = `/Length ${Math.max(1, n >> 1)}`; break;
        case 'long': len = `/Length ${n * 2 + 50}`; break;
        case 'zero': len = '/Length 0'; break;
        case 'none': len = ''; break;
        case 'indirect': {
          const num = extra++;
          len = `/Length ${num} 0 R`;
          pending.push({ num, body: String(n) });
          break;
        }
      }
      push(enc(`<< ${o.dict ?? ''} ${len} >>\nstream${o.streamEol ?? '\n'}`));
      push(Buffer.from(o.stream));
      push(enc('\nendstream\nendobj\n'));
    } else {
      if (o.dict !== undefined) push(enc(`<< ${o.dict} >>`));
      if (o.body !== undefined) push(enc(o.body));
      push(enc('\nendobj\n'));
    }
  };
  for (const o of objects) writeObj(o);
  for (const o of pending) writeObj(o);
  if (opts.noTrailer) return Buffer.concat(parts);
  const xref = size;
  const nums = offsets.map(([n]) => n);
  const max = Math.max(0, ...nums) + 1;
  const table = [`xref\n0 ${max}\n0000000000 65535 f \n`];
  const byNum = new Map(offsets);
  for (let n = 1; n < max; n++) {
    const off = byNum.get(n);
    table.push(off === undefined ? '0000000000 00000 f \n' : `${String(off).padStart(10, '0')} 00000 n \n`);
  }
  push(enc(table.join('')));
  push(enc(`trailer\n<< /Size ${max} /Root 1 0 R ${opts.trailer ?? ''} >>\nstartxref\n${xref}\n%%EOF\n`));
  return Buffer.concat(parts);
}

/** An incremental update: more objects and a second trailer appended to a PDF. */
export function appendUpdate(pdf: Uint8Array, objects: readonly ObjectSpec[], glued = false): Buffer {
  let base = Buffer.from(pdf);
  if (glued && base[base.length - 1] === 0x0a) base = base.subarray(0, base.length - 1);
  const body = buildPdf(objects);
  // drop the new header: the update continues the file
  const start = body.indexOf('\n', body.indexOf('\n') + 1) + 1;
  return Buffer.concat([base, body.subarray(start)]);
}

/** An object stream holding `objects` (number and body text), as `/Type/ObjStm` wants. */
export function objectStream(objects: readonly { num: number; body: string }[]): { header: string; data: Buffer } {
  const bodies = objects.map((o) => Buffer.from(o.body + '\n', 'latin1'));
  const pairs: string[] = [];
  let off = 0;
  objects.forEach((o, i) => { pairs.push(`${o.num} ${off}`); off += bodies[i]!.length; });
  const head = Buffer.from(pairs.join(' ') + '\n', 'latin1');
  return { header: `/N ${objects.length} /First ${head.length}`, data: Buffer.concat([head, ...bodies]) };
}

export const flateEncode = (b: Uint8Array): Buffer => deflateSync(b);

export function asciiHexEncode(b: Uint8Array): Buffer {
  return Buffer.from(Buffer.from(b).toString('hex').toUpperCase() + '>', 'latin1');
}

export function ascii85Encode(b: Uint8Array): Buffer {
  let out = '';
  for (let i = 0; i < b.length; i += 4) {
    const n = Math.min(4, b.length - i);
    let v = 0;
    for (let k = 0; k < 4; k++) v = v * 256 + (k < n ? b[i + k]! : 0);
    if (n === 4 && v === 0) { out += 'z'; continue; }
    const digits: string[] = [];
    for (let k = 0; k < 5; k++) { digits.unshift(String.fromCharCode(33 + (v % 85))); v = Math.floor(v / 85); }
    out += digits.slice(0, n + 1).join('');
  }
  return Buffer.from(out + '~>', 'latin1');
}

export function runLengthEncode(b: Uint8Array): Buffer {
  const out: number[] = [];
  let i = 0;
  while (i < b.length) {
    let run = 1;
    while (i + run < b.length && run < 128 && b[i + run] === b[i]) run++;
    if (run >= 3) { out.push(257 - run, b[i]!); i += run; continue; }
    let lit = 0;
    while (i + lit < b.length && lit < 128 && !(i + lit + 2 < b.length && b[i + lit] === b[i + lit + 1] && b[i + lit] === b[i + lit + 2])) lit++;
    out.push(lit - 1, ...b.subarray(i, i + lit));
    i += lit;
  }
  out.push(128);
  return Buffer.from(out);
}

/** LZW as PDF writes it (MSB-first codes, 9 to 12 bits, clear code first, EOD last). */
export function lzwEncode(b: Uint8Array, earlyChange = true): Buffer {
  const out: number[] = [];
  let acc = 0, nacc = 0;
  let width = 9;
  const emit = (code: number): void => {
    acc = (acc << width) | code;
    nacc += width;
    while (nacc >= 8) { out.push((acc >>> (nacc - 8)) & 0xff); nacc -= 8; }
    acc &= (1 << nacc) - 1;
  };
  let table = new Map<string, number>();
  let next = 258;
  const reset = (): void => { table = new Map(); next = 258; width = 9; };
  emit(256);
  let w = '';
  for (const byte of b) {
    const c = String.fromCharCode(byte);
    const wc = w + c;
    if (w === '' || table.has(wc)) { w = wc; continue; }
    emit(w.length === 1 ? w.charCodeAt(0) : table.get(w)!);
    table.set(wc, next++);
    if (next + (earlyChange ? 0 : -1) > (1 << width) - 1 && width < 12) width++;
    if (next >= 4093) { emit(256); reset(); }
    w = c;
  }
  if (w !== '') emit(w.length === 1 ? w.charCodeAt(0) : table.get(w)!);
  emit(257);
  if (nacc > 0) out.push((acc << (8 - nacc)) & 0xff);
  return Buffer.from(out);
}

export interface EncryptOptions {
  /** 2 or 3 (RC4), 4 (AES-128), 6 (AES-256). */
  R: 2 | 3 | 4 | 6;
  /** Whether the user password is empty (ClamAV can then decrypt). */
  emptyUser: boolean;
  /** /P (default -4; ClamAV reads -1 as a missing P). */
  P?: number;
  /** Number of the encryption dictionary object. */
  num?: number;
}

const PAD = Buffer.from('28bf4e5e4e758a4164004e56fffa01082e2e00b6d0683e802f0ca9fe6453697a', 'hex');
const md5 = (...p: Uint8Array[]): Buffer => { const h = createHash('md5'); for (const x of p) h.update(x); return h.digest(); };
const padPw = (pw: string): Buffer => Buffer.concat([Buffer.from(pw, 'latin1'), PAD]).subarray(0, 32);
const aesEnc = (key: Uint8Array, iv: Uint8Array, data: Uint8Array, pad: boolean): Buffer => {
  const c = createCipheriv(`aes-${key.length * 8}-cbc`, key, iv);
  c.setAutoPadding(pad);
  return Buffer.concat([c.update(data), c.final()]);
};

/**
 * Encrypts the strings given as `jsString` and the streams of `objects` with the Standard handler;
 * returns the objects (with the encryption dictionary added) and the trailer entries to pass on.
 */
export function encryptObjects(objects: readonly (ObjectSpec & { jsString?: string })[], e: EncryptOptions): { objects: ObjectSpec[]; trailer: string } {
  const id = Buffer.from('0123456789abcdef0123456789abcdef', 'hex');
  const P = e.P ?? -4;
  const pBytes = Buffer.alloc(4);
  pBytes.writeInt32LE(P);
  const userPw = e.emptyUser ? '' : 'secret';
  const num = e.num ?? 99;
  let key: Buffer;
  let encDict: string;
  const hex = (b: Uint8Array): string => `<${Buffer.from(b).toString('hex')}>`;
  if (e.R === 6) {
    key = Buffer.alloc(32, 0x5a);
    const uvs = Buffer.alloc(8, 1), uks = Buffer.alloc(8, 2), ovs = Buffer.alloc(8, 3), oks = Buffer.alloc(8, 4);
    // the R6 hash of ClamAV (for the empty password); a non-empty user password gets a U that cannot match
    const u = Buffer.concat([e.emptyUser ? hashR6(uvs, undefined) : Buffer.alloc(32, 9), uvs, uks]);
    const ue = aesEnc(hashR6(uks, undefined), new Uint8Array(16), key, false);
    const o = Buffer.concat([Buffer.alloc(32, 7), ovs, oks]);
    const oe = Buffer.alloc(32, 8);
    encDict = `/Filter /Standard /V 5 /R 6 /Length 256 /P ${P} /O ${hex(o)} /U ${hex(u)} /OE ${hex(oe)} /UE ${hex(ue)} /CF << /StdCF << /CFM /AESV3 /Length 32 >> >> /StmF /StdCF /StrF /StdCF`;
  } else {
    const bits = e.R === 2 ? 40 : 128;
    const n = bits / 8;
    let ok = md5(padPw('owner'));
    if (e.R >= 3) for (let i = 0; i < 50; i++) ok = md5(ok);
    const okey = ok.subarray(0, n);
    let o: Uint8Array = rc4(okey, padPw(userPw));
    if (e.R >= 3) for (let i = 1; i <= 19; i++) o = rc4(okey.map((k) => k ^ i), o);
    let k = md5(padPw(userPw), o, pBytes, id);
    if (e.R >= 3) for (let i = 0; i < 50; i++) k = md5(k.subarray(0, n));
    key = k.subarray(0, n);
    let u: Uint8Array;
    if (e.R === 2) u = rc4(key, PAD);
    else {
      u = rc4(key, md5(PAD, id));
      for (let i = 1; i <= 19; i++) u = rc4(key.map((x) => x ^ i), u);
      u = Buffer.concat([u, Buffer.alloc(16)]);
    }
    const cf = e.R === 4 ? ' /CF << /StdCF << /CFM /AESV2 /Length 16 >> >> /StmF /StdCF /StrF /StdCF' : '';
    encDict = `/Filter /Standard /V ${e.R === 2 ? 1 : e.R === 3 ? 2 : 4} /R ${e.R} /Length ${bits} /P ${P} /O ${hex(o)} /U ${hex(u)}${cf}`;
  }
  const objKey = (o: ObjectSpec): Buffer => md5(key, Buffer.from([o.num & 0xff, (o.num >> 8) & 0xff, (o.num >> 16) & 0xff, (o.gen ?? 0) & 0xff, 0]), e.R === 4 ? Buffer.from('sAlT') : Buffer.alloc(0)).subarray(0, Math.min(key.length + 5, 16));
  const encrypt = (o: ObjectSpec, data: Uint8Array): Uint8Array => {
    if (e.R === 6) return Buffer.concat([Buffer.alloc(16, 0x11), aesEnc(key, Buffer.alloc(16, 0x11), data, true)]);
    if (e.R === 4) return Buffer.concat([Buffer.alloc(16, 0x22), aesEnc(objKey(o), Buffer.alloc(16, 0x22), data, true)]);
    return rc4(objKey(o), data);
  };
  const out: ObjectSpec[] = objects.map((o) => {
    const r: ObjectSpec = { ...o };
    delete (r as { jsString?: string }).jsString;
    if (o.jsString !== undefined) r.dict = `${o.dict ?? ''} /S /JavaScript /JS ${hex(encrypt(o, Buffer.from(o.jsString, 'latin1')))}`;
    if (o.stream) r.stream = encrypt(o, o.stream);
    return r;
  });
  out.push({ num, dict: encDict });
  return { objects: out, trailer: `/Encrypt ${num} 0 R /ID [${hex(id)} ${hex(id)}]` };
}
