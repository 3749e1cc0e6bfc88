/**
 * Authenticode signatures: the PKCS#7 SignedData blobs of a PE's security directory, read as
 * YARA 4.2.3 reads them through OpenSSL (`pe_parse_certificates`, `_parse_pkcs7`), with a small
 * DER reader of our own.
 *
 * In: a `PeImage`. Out: undefined when the security directory entry is absent (then
 * `pe.number_of_signatures` is undefined), else one `Signature` per signer certificate, at most 16:
 * WIN_CERTIFICATE records (revision 2.0, type PKCS_SIGNED_DATA; others skipped, a bad revision
 * ends the walk) each holding DER PKCS#7 objects back to back; for each SignedData, the
 * certificate of every signer (found by issuer and serial number among the embedded certificates;
 * one signer without its certificate drops the whole object, as `PKCS7_get0_signers` does), then
 * the nested signatures of the first signer (unauthenticated attribute 1.3.6.1.4.1.311.2.4.1).
 * Fields follow OpenSSL's renderings: SHA-1 thumbprint of the certificate's DER, issuer and subject
 * as `X509_NAME_oneline` prints them into 256 bytes (`/C=…/OU=…+SN=…/CN=…`, bytes outside 0x20–0x7e as
 * `\xHH`, entries that do not fit dropped), the signature algorithm's long name and dotted OID,
 * the serial as colon-separated hex of its minimal two's-complement encoding (1 to 20 bytes, else
 * undefined), validity times as YARA converts them (time zone ignored).
 *
 * Hostile input: every length is checked against its enclosing element; nesting depth and object
 * counts are bounded; indefinite lengths are refused.
 */
import { createHash } from 'node:crypto';
import { dataDirectory, fits, u16, u32, type PeImage } from './image.js';

export interface Signature {
  readonly thumbprint: Uint8Array;
  readonly issuer: Uint8Array;
  readonly subject: Uint8Array;
  readonly version: number;
  readonly algorithm?: Uint8Array;
  readonly algorithmOid: Uint8Array;
  readonly serial?: Uint8Array;
  readonly notBefore?: number;
  readonly notAfter?: number;
}

const MAX_PE_CERTS = 16;
const MAX_NESTING = 8;

/** One DER element: tag byte, where its content lies, and where it ends. */
interface Tlv {
  tag: number;
  start: number;
  /** First content byte. */
  content: number;
  end: number;
}

class Der {
  constructor(readonly b: Uint8Array) {}

  /** The element at `at`, which must end by `limit`; undefined when malformed. */
  read(at: number, limit: number): Tlv | undefined {
    const b = this.b;
    if (at + 2 > limit) return undefined;
    const tag = b[at]!;
    if ((tag & 0x1f) === 0x1f) return undefined; // multi-byte tags do not occur here
    let len = b[at + 1]!;
    let content = at + 2;
    if (len & 0x80) {
      const n = len & 0x7f;
      if (n === 0 || n > 4 || content + n > limit) return undefined;
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + b[content + i]!;
      content += n;
    }
    const end = content + len;
    if (end > limit) return undefined;
    return { tag, start: at, content, end };
  }

  /** The children of a constructed element. */
  children(t: Tlv, max = 100000): Tlv[] | undefined {
    const out: Tlv[] = [];
    for (let at = t.content; at < t.end;) {
      const c = this.read(at, t.end);
      if (!c || out.length >= max) return undefined;
      out.push(c);
      at = c.end;
    }
    return out;
  }

  bytes(t: Tlv): Uint8Array {
    return this.b.subarray(t.content, t.end);
  }

  whole(t: Tlv): Uint8Array {
    return this.b.subarray(t.start, t.end);
  }
}

function oidText(c: Uint8Array): string {
  if (c.length === 0) return '';
  const parts: number[] = [];
  let v = 0;
  for (const x of c) {
    v = v * 128 + (x & 0x7f);
    if (!(x & 0x80)) {
      parts.push(v);
      v = 0;
    }
  }
  const first = parts.shift() ?? 0;
  const a = first < 40 ? 0 : first < 80 ? 1 : 2;
  return [a, first - 40 * a, ...parts].join('.');
}

const SHORT_NAMES: Readonly<Record<string, string>> = {
  '2.5.4.3': 'CN', '2.5.4.4': 'SN', '2.5.4.5': 'serialNumber', '2.5.4.6': 'C', '2.5.4.7': 'L', '2.5.4.8': 'ST',
  '2.5.4.9': 'street', '2.5.4.10': 'O', '2.5.4.11': 'OU', '2.5.4.12': 'title', '2.5.4.13': 'description',
  '2.5.4.15': 'businessCategory', '2.5.4.16': 'postalAddress', '2.5.4.17': 'postalCode', '2.5.4.18': 'postOfficeBox',
  '2.5.4.41': 'name', '2.5.4.42': 'GN', '2.5.4.43': 'initials', '2.5.4.44': 'generationQualifier',
  '2.5.4.46': 'dnQualifier', '2.5.4.65': 'pseudonym', '2.5.4.97': 'organizationIdentifier',
  '1.2.840.113549.1.9.1': 'emailAddress', '0.9.2342.19200300.100.1.25': 'DC', '0.9.2342.19200300.100.1.1': 'UID',
  '1.3.6.1.4.1.311.60.2.1.1': 'jurisdictionL', '1.3.6.1.4.1.311.60.2.1.2': 'jurisdictionST', '1.3.6.1.4.1.311.60.2.1.3': 'jurisdictionC',
};

const SIG_ALGORITHMS: Readonly<Record<string, string>> = {
  '1.2.840.113549.1.1.2': 'md2WithRSAEncryption', '1.2.840.113549.1.1.3': 'md4WithRSAEncryption',
  '1.2.840.113549.1.1.4': 'md5WithRSAEncryption', '1.2.840.113549.1.1.5': 'sha1WithRSAEncryption',
  '1.2.840.113549.1.1.10': 'rsassaPss', '1.2.840.113549.1.1.11': 'sha256WithRSAEncryption',
  '1.2.840.113549.1.1.12': 'sha384WithRSAEncryption', '1.2.840.113549.1.1.13': 'sha512WithRSAEncryption',
  '1.2.840.113549.1.1.14': 'sha224WithRSAEncryption', '1.3.14.3.2.29': 'sha1WithRSA',
  '1.2.840.10045.4.1': 'ecdsa-with-SHA1', '1.2.840.10045.4.3.1': 'ecdsa-with-SHA224', '1.2.840.10045.4.3.2': 'ecdsa-with-SHA256',
  '1.2.840.10045.4.3.3': 'ecdsa-with-SHA384', '1.2.840.10045.4.3.4': 'ecdsa-with-SHA512',
  '1.2.840.10040.4.3': 'dsaWithSHA1', '2.16.840.1.101.3.4.3.1': 'dsa_with_SHA224', '2.16.840.1.101.3.4.3.2': 'dsa_with_SHA256',
  '1.3.101.112': 'ED25519', '1.3.101.113': 'ED448',
};

const HEX = '0123456789ABCDEF';

/** `X509_NAME_oneline(name, buf, 256)`. */
function nameOneline(der: Der, name: Tlv): Uint8Array {
  const rdns = der.children(name) ?? [];
  let out = '';
  const limit = 255;
  for (const rdn of rdns) {
    let sep = '/';
    for (const atv of der.children(rdn) ?? []) {
      const kv = der.children(atv);
      if (!kv || kv.length < 2 || kv[0]!.tag !== 0x06) continue;
      const oid = oidText(der.bytes(kv[0]!));
      const label = SHORT_NAMES[oid] ?? oid;
      const value = der.bytes(kv[1]!);
      const type = kv[1]!.tag;
      const keep = [true, true, true, true];
      if (type === 0x1b && value.length % 4 === 0) {
        const nz = [false, false, false, false];
        value.forEach((c, j) => { if (c !== 0) nz[j & 3] = true; });
        if (!(nz[0] || nz[1] || nz[2])) keep[0] = keep[1] = keep[2] = false;
      }
      let v = '';
      value.forEach((c, j) => {
        if (!keep[j & 3]) return;
        v += c < 0x20 || c > 0x7e ? `\\x${HEX[c >> 4]}${HEX[c & 15]}` : String.fromCharCode(c);
      });
      // Entries of one multi-valued RDN are joined by '+'.
      const entry = `${sep}${label}=${v}`;
      if (out.length + entry.length > limit) return Buffer.from(out, 'latin1');
      out += entry;
      sep = '+';
    }
  }
  return Buffer.from(out, 'latin1');
}

/** The serial as YARA prints it: minimal two's-complement bytes, colon separated; 1–20 bytes. */
function serialText(content: Uint8Array): Uint8Array | undefined {
  let s = 0;
  while (s + 1 < content.length && ((content[s] === 0 && !(content[s + 1]! & 0x80)) || (content[s] === 0xff && content[s + 1]! & 0x80))) s++;
  const b = content.subarray(s);
  if (b.length === 0 || b.length > 20) return undefined;
  return Buffer.from([...b].map((x) => x.toString(16).padStart(2, '0')).join(':'), 'latin1');
}

/** YARA's ASN1_get_time_t: digits read positionally, time zone ignored, then timegm. */
function timeOf(der: Der, t: Tlv): number | undefined {
  const s = der.bytes(t);
  // `char` is signed: bytes of 0x80 and above count as negative.
  const d = (i: number): number => (((s[i] ?? 0) << 24) >> 24) - 0x30;
  let i = 0;
  let year: number;
  if (t.tag === 0x17) {
    year = d(0) * 10 + d(1);
    i = 2;
    if (year < 70) year += 100;
    year += 1900;
  } else if (t.tag === 0x18) {
    year = d(0) * 1000 + d(1) * 100 + d(2) * 10 + d(3);
    i = 4;
  } else {
    return undefined;
  }
  const mon = d(i) * 10 + d(i + 1) - 1;
  const day = d(i + 2) * 10 + d(i + 3);
  const h = d(i + 4) * 10 + d(i + 5);
  const m = d(i + 6) * 10 + d(i + 7);
  const sec = d(i + 8) * 10 + d(i + 9);
  return Date.UTC(year, mon, day, h, m, sec) / 1000;
}

interface Cert {
  der: Tlv;
  issuer: Tlv;
  serial: Tlv;
  tbs: Tlv[];
  sigAlg: Tlv;
}

function parseCert(der: Der, t: Tlv): Cert | undefined {
  if (t.tag !== 0x30) return undefined;
  const top = der.children(t);
  if (!top || top.length < 3 || top[0]!.tag !== 0x30 || top[1]!.tag !== 0x30) return undefined;
  const tbs = der.children(top[0]!);
  if (!tbs) return undefined;
  const off = tbs[0]?.tag === 0xa0 ? 1 : 0;
  if (tbs.length < off + 6) return undefined;
  const serial = tbs[off]!;
  const issuer = tbs[off + 2]!;
  if (serial.tag !== 0x02 || issuer.tag !== 0x30) return undefined;
  const alg = der.children(top[1]!);
  if (!alg || alg[0]?.tag !== 0x06) return undefined;
  const validity = tbs[off + 3]!;
  const times = der.children(validity);
  if (validity.tag !== 0x30 || !times || times.length !== 2 || times.some((x) => x.tag !== 0x17 && x.tag !== 0x18)) return undefined;
  if (!validName(der, issuer) || !validName(der, tbs[off + 4]!)) return undefined;
  return { der: t, issuer, serial, tbs, sigAlg: alg[0] };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function integerValue(der: Der, t: Tlv): Uint8Array | undefined {
  return serialText(der.bytes(t));
}

function signatureOf(der: Der, c: Cert): Signature {
  const off = c.tbs[0]?.tag === 0xa0 ? 1 : 0;
  let version = 1;
  if (off) {
    const v = der.children(c.tbs[0]!)?.[0];
    if (v && v.tag === 0x02) {
      const vb = der.bytes(v);
      let n = 0;
      for (const x of vb.subarray(0, 6)) n = n * 256 + x;
      version = n + 1;
    }
  }
  const validity = der.children(c.tbs[off + 3]!) ?? [];
  const oid = oidText(der.bytes(c.sigAlg));
  const ln = SIG_ALGORITHMS[oid];
  const notBefore = validity[0] ? timeOf(der, validity[0]) : undefined;
  const notAfter = validity[1] ? timeOf(der, validity[1]) : undefined;
  const serial = integerValue(der, c.serial);
  return {
    thumbprint: Buffer.from(createHash('sha1').update(der.whole(c.der)).digest('hex'), 'latin1'),
    issuer: nameOneline(der, c.issuer),
    subject: nameOneline(der, c.tbs[off + 4]!),
    version,
    ...(ln ? { algorithm: Buffer.from(ln, 'latin1') } : { algorithm: Buffer.from('undefined', 'latin1') }),
    algorithmOid: Buffer.from(ln ? oid : '', 'latin1'),
    ...(serial ? { serial } : {}),
    ...(notBefore !== undefined ? { notBefore } : {}),
    ...(notAfter !== undefined ? { notAfter } : {}),
  };
}

/**
 * A primitive universal element as OpenSSL's decoders accept it: INTEGERs non-empty and not
 * padded, BOOLEANs of one byte, NULLs empty, BIT STRINGs with an unused-bits byte ≤ 7, OBJECT
 * IDENTIFIERs well formed. Constructed elements in ANY positions are kept opaque (not checked).
 */
function validPrimitive(der: Der, t: Tlv): boolean {
  const b = der.b;
  const len = t.end - t.content;
  switch (t.tag) {
    case 0x00:
      return false;
    case 0x01:
      return len === 1;
    case 0x02:
      if (len === 0) return false;
      return !(len > 1 && ((b[t.content] === 0 && !(b[t.content + 1]! & 0x80)) || (b[t.content] === 0xff && b[t.content + 1]! & 0x80)));
    case 0x03:
      return len >= 1 && b[t.content]! <= 7;
    case 0x05:
      return len === 0;
    case 0x06: {
      if (len === 0 || b[t.end - 1]! & 0x80) return false;
      for (let i = t.content; i < t.end; i++) if (b[i] === 0x80 && (i === t.content || !(b[i - 1]! & 0x80))) return false;
      return true;
    }
    default:
      return true;
  }
}

/** Children of `t` when it has tag `tag` and its content is exactly a run of elements. */
function kidsOf(der: Der, t: Tlv | undefined, tag: number): Tlv[] | undefined {
  if (!t || t.tag !== tag) return undefined;
  return der.children(t);
}

const prim = (der: Der, t: Tlv | undefined, tag: number): boolean => !!t && t.tag === tag && validPrimitive(der, t);

/** AlgorithmIdentifier ::= SEQUENCE { OID, ANY OPTIONAL }. */
function validAlgId(der: Der, t: Tlv | undefined): boolean {
  const k = kidsOf(der, t, 0x30);
  return !!k && k.length >= 1 && k.length <= 2 && prim(der, k[0], 0x06) && (k.length === 1 || validPrimitive(der, k[1]!));
}

/** SET OF Attribute ::= SEQUENCE { OID, SET OF ANY }. */
function validAttributes(der: Der, t: Tlv): boolean {
  for (const a of der.children(t) ?? [undefined]) {
    const k = kidsOf(der, a, 0x30);
    if (!k || k.length !== 2 || !prim(der, k[0], 0x06)) return false;
    const values = kidsOf(der, k[1], 0x31);
    if (!values || !values.every((v) => validPrimitive(der, v))) return false;
  }
  return true;
}

/** Certificate as OpenSSL's X509 template reads it (extensions included). */
function validCert(der: Der, t: Tlv): boolean {
  const top = kidsOf(der, t, 0x30);
  if (!top || top.length !== 3 || !validAlgId(der, top[1]) || !prim(der, top[2], 0x03)) return false;
  const tbs = kidsOf(der, top[0], 0x30);
  if (!tbs) return false;
  let i = 0;
  if (tbs[0]?.tag === 0xa0) {
    const v = der.children(tbs[0]);
    if (!v || v.length !== 1 || !prim(der, v[0], 0x02)) return false;
    i++;
  }
  if (!prim(der, tbs[i], 0x02) || !validAlgId(der, tbs[i + 1])) return false;
  const times = kidsOf(der, tbs[i + 3], 0x30);
  if (!times || times.length !== 2 || times.some((x) => x.tag !== 0x17 && x.tag !== 0x18)) return false;
  const spki = kidsOf(der, tbs[i + 5], 0x30);
  if (!spki || spki.length !== 2 || !validAlgId(der, spki[0]) || !prim(der, spki[1], 0x03)) return false;
  let j = i + 6;
  if (tbs[j]?.tag === 0x81) j++;
  if (tbs[j]?.tag === 0x82) j++;
  if (tbs[j]?.tag === 0xa3) {
    const wrap = der.children(tbs[j]!);
    const exts = wrap && wrap.length === 1 ? kidsOf(der, wrap[0], 0x30) : undefined;
    if (!exts || exts.length === 0) return false;
    for (const e of exts) {
      const k = kidsOf(der, e, 0x30);
      if (!k || k.length < 2 || k.length > 3 || !prim(der, k[0], 0x06)) return false;
      if (k.length === 3 && !prim(der, k[1], 0x01)) return false;
      if (!prim(der, k[k.length - 1], 0x04)) return false;
    }
    j++;
  }
  return j === tbs.length;
}

/** SignerInfo as OpenSSL's PKCS7_SIGNER_INFO template reads it. */
function validSigner(der: Der, t: Tlv): boolean {
  const k = kidsOf(der, t, 0x30);
  if (!k || !prim(der, k[0], 0x02)) return false;
  const ias = kidsOf(der, k[1], 0x30);
  if (!ias || ias.length !== 2 || !prim(der, ias[1], 0x02)) return false;
  if (!validAlgId(der, k[2])) return false;
  let i = 3;
  if (k[i]?.tag === 0xa0) {
    if (!validAttributes(der, k[i]!)) return false;
    i++;
  }
  if (!validAlgId(der, k[i]) || !prim(der, k[i + 1], 0x04)) return false;
  i += 2;
  if (k[i]?.tag === 0xa1) {
    if (!validAttributes(der, k[i]!)) return false;
    i++;
  }
  return i === k.length;
}

/** Universal tags an X509_NAME_ENTRY value may have (OpenSSL's B_ASN1_PRINTABLE). */
const NAME_VALUE_TAGS = new Set([0x03, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x12, 0x13, 0x14, 0x16, 0x1c, 0x1d, 0x1e, 0x30]);

/** Valid UTF-8 as OpenSSL's UTF8_getc accepts it (no overlong forms, no surrogates, ≤ U+10FFFF). */
function validUtf8(v: Uint8Array): boolean {
  for (let i = 0; i < v.length;) {
    const c = v[i]!;
    let n: number;
    let cp: number;
    let min: number;
    if (c < 0x80) { i++; continue; }
    if ((c & 0xe0) === 0xc0) { n = 1; cp = c & 0x1f; min = 0x80; }
    else if ((c & 0xf0) === 0xe0) { n = 2; cp = c & 0x0f; min = 0x800; }
    else if ((c & 0xf8) === 0xf0) { n = 3; cp = c & 0x07; min = 0x10000; }
    else return false;
    for (let k = 1; k <= n; k++) {
      const x = v[i + k];
      if (x === undefined || (x & 0xc0) !== 0x80) return false;
      cp = cp * 64 + (x & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += n + 1;
  }
  return true;
}

/** An X509_NAME OpenSSL loads: SET OF SEQUENCE { OID, value of an allowed type that converts to UTF-8 }. */
function validName(der: Der, name: Tlv): boolean {
  if (name.tag !== 0x30) return false;
  for (const rdn of der.children(name) ?? []) {
    if (rdn.tag !== 0x31) return false;
    const atvs = der.children(rdn) ?? [];
    if (atvs.length === 0) return false;
    for (const atv of atvs) {
      const kv = der.children(atv);
      if (atv.tag !== 0x30 || !kv || kv.length !== 2 || kv[0]!.tag !== 0x06) return false;
      const v = kv[1]!;
      if (!NAME_VALUE_TAGS.has(v.tag)) return false;
      const data = der.bytes(v);
      if (v.tag === 0x0c && !validUtf8(data)) return false;
      if (v.tag === 0x1e && data.length % 2 !== 0) return false;
      if (v.tag === 0x1c && data.length % 4 !== 0) return false;
    }
  }
  return true;
}

const SIGNED_DATA = '1.2.840.113549.1.7.2';
const NESTED = '1.3.6.1.4.1.311.2.4.1';

/** `_parse_pkcs7` on the PKCS#7 object `p7`. */
function parsePkcs7(der: Der, p7: Tlv, out: Signature[], depth: number): void {
  if (out.length >= MAX_PE_CERTS || depth > MAX_NESTING) return;
  const top = der.children(p7);
  if (!top || top.length < 2 || top[0]!.tag !== 0x06 || oidText(der.bytes(top[0]!)) !== SIGNED_DATA || top[1]!.tag !== 0xa0) return;
  const sdWrap = der.children(top[1]!);
  const sd = sdWrap?.[0];
  if (!sd || sd.tag !== 0x30) return;
  const parts = der.children(sd);
  if (!parts || parts.length < 4 || top.length !== 2 || sdWrap.length !== 1) return;
  // version, digestAlgorithms, contentInfo { OID, [0] EXPLICIT ANY } as OpenSSL decodes them.
  if (!prim(der, parts[0], 0x02)) return;
  const digests = kidsOf(der, parts[1], 0x31);
  if (!digests || !digests.every((a) => validAlgId(der, a))) return;
  const ci = kidsOf(der, parts[2], 0x30);
  if (!ci || ci.length < 1 || ci.length > 2 || !prim(der, ci[0], 0x06)) return;
  if (ci.length === 2) {
    const inner = kidsOf(der, ci[1], 0xa0);
    if (!inner || inner.length !== 1 || !validPrimitive(der, inner[0]!)) return;
  }
  let i = 3;
  const certs: Cert[] = [];
  if (parts[i]?.tag === 0xa0) {
    for (const c of der.children(parts[i]!) ?? []) {
      const cert = validCert(der, c) ? parseCert(der, c) : undefined;
      // A certificate OpenSSL cannot load fails the whole object.
      if (!cert) return;
      certs.push(cert);
    }
    i++;
  }
  if (parts[i]?.tag === 0xa1) i++;
  const signerSet = parts[i];
  if (!signerSet || signerSet.tag !== 0x31) return;
  const signers = der.children(signerSet) ?? [];
  if (signers.length === 0 || !signers.every((x) => validSigner(der, x))) return;
  if (i + 1 !== parts.length) return;
  const found: Cert[] = [];
  const signerParts: Tlv[][] = [];
  for (const si of signers) {
    const f = der.children(si);
    const ias = f?.[1] ? der.children(f[1]) : undefined;
    if (!f || !ias || ias.length < 2 || !validName(der, ias[0]!)) return;
    const cert = certs.find((c) => sameBytes(der.whole(c.issuer), der.whole(ias[0]!)) && sameBytes(der.bytes(c.serial), der.bytes(ias[1]!)));
    if (!cert) return;
    found.push(cert);
    signerParts.push(f);
  }
  for (const c of found) {
    if (out.length >= MAX_PE_CERTS) break;
    out.push(signatureOf(der, c));
  }
  // Nested signatures: the first signer's unauthenticated attribute of that OID.
  const first = signerParts[0]!;
  const unauth = first.find((x) => x.tag === 0xa1);
  if (!unauth) return;
  for (const attr of der.children(unauth) ?? []) {
    const kv = der.children(attr);
    if (!kv || kv.length < 2 || kv[0]!.tag !== 0x06 || oidText(der.bytes(kv[0]!)) !== NESTED) continue;
    const values = der.children(kv[1]!) ?? [];
    for (let j = 0; j < values.length && j < MAX_PE_CERTS; j++) {
      if (values[j]!.tag === 0x30) parsePkcs7(der, values[j]!, out, depth + 1);
    }
    break;
  }
}

export function parseAuthenticode(img: PeImage): Signature[] | undefined {
  const dir = dataDirectory(img, 4);
  if (!dir) return undefined;
  const out: Signature[] = [];
  const va = dir.virtualAddress;
  const size = dir.size;
  if (va === 0 || va > img.size || size > img.size || va + size > img.size) return out;
  const eod = va + size;
  const d = img.data;
  const der = new Der(d);
  let cert = va;
  for (let guard = 0; guard < 100000; guard++) {
    if (!fits(img, cert, 8)) break;
    const length = u32(d, cert);
    if (!(length > 8 && fits(img, cert, length) && cert + 8 < eod && cert + length <= eod)) break;
    const revision = u16(d, cert + 4);
    const type = u16(d, cert + 6);
    if (revision !== 0x100 && revision !== 0x200) break;
    const end = cert + length;
    if (revision === 0x200 && type === 2) {
      for (let p = cert + 8; p < end && out.length < MAX_PE_CERTS;) {
        const t = der.read(p, end);
        if (!t || t.tag !== 0x30) break;
        parsePkcs7(der, t, out, 0);
        p = t.end;
      }
    }
    cert = Math.ceil(end / 8) * 8;
  }
  return out;
}
