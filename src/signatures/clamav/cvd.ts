/**
 * ClamAV signed containers (`.cvd`, `.cld`, `.cud`) → verified database members.
 *
 * In: the bytes of a container and its file name (the extension selects the policy, as in
 * ClamAV). Out: the parsed 512-byte header, whether the container is official, its database
 * members in tar order, and diagnostics. Nothing here throws on input; on any failure `files`
 * is empty and an error says what is wrong, naming the field or member, expected and found.
 *
 * Layout (reference §2): a 512-byte header `ClamAV-VDB:time:version:sigs:flevel:md5:dsig:builder:stime`
 * padded with spaces, then a tar (gzip-compressed unless it starts with `COPYING`). The tar holds
 * `COPYING`, one `<db>.info` and the database files. The `.info` repeats the header, lists
 * `name:size:sha256` for every database file, and ends with a `DSIG:` line, an RSASSA-PSS
 * signature over everything before it.
 *
 * Policy, ClamAV 1.4's (`cli_cvdload`, `cli_tgzload`, `cli_loadinfo`):
 *  - `.cvd`: the MD5 of bytes 512..EOF must equal the header's md5 field, and its dsig field must
 *    be a raw RSA signature of that MD5 under ClamAV's CVD key. Official.
 *  - `.cld`: no header signature; the `.info` DSIG must verify. Official.
 *  - `.cud`: unsigned; loads as unofficial. Its `.info` is still required (ClamAV fails with
 *    "Corrupted CVD header" without one) and must not carry a DSIG line (ClamAV 1.4, loading it
 *    unsigned, reads that line as a malformed entry and fails).
 *  - All: the tar holds only regular files without `/` in their names; the `.info` header line
 *    repeats the container header; each member is listed in the `.info` with its size and SHA-256.
 *
 * Where ClamAV is lenient this loader is strict, so that a `.cvd` with any byte changed is refused
 * and a `.cld` cannot gain, lose or alter a database file unnoticed: header padding must be spaces
 * only (ClamAV stops at a NUL); every header field must be well-formed and equal to its copy in the
 * signed `.info` (ClamAV compares four numbers); a header MD5 that is present is checked in every
 * kind; the gzip stream must be one member with matching CRC and length and nothing after it
 * (zlib skips trailing garbage); the tar must have valid checksums, zero padding and only zeros
 * after its end; names must be unique; every member must be listed in the `.info` and every listed
 * file present (ClamAV skips members without a database extension and never notices a listed file
 * that is absent); nothing may follow the `DSIG:` line. Signatures must be canonically encoded
 * (below the modulus, no redundant digits, zero PSS padding); otherwise the checks are ClamAV 1.4's,
 * quirks included (a recovered number with leading zero bytes never matches), so that both agree
 * on what loads.
 */

import { createHash } from 'node:crypto';
import { constants as bufferConstants } from 'node:buffer';
import * as zlib from 'node:zlib';
import { error, hasErrors, warning, type Diagnostic } from '../../core/diagnostics.js';
import { ENGINE_LIMITS } from '../../core/limits.js';
import { readTar } from '../../formats/tar.js';
import { ENGINE_FLEVEL, tokenize } from './lines.js';

/** Size of the text header that precedes the body. */
export const CVD_HEADER_SIZE = 512;

/**
 * Largest body a container may unpack to, in bytes: 1 GiB.
 *
 * Why: deflate expands up to about 1000:1, so without a bound a few megabytes could demand
 * gigabytes of memory. Official databases unpack to hundreds of MiB at most, well below it.
 * Reaching the bound fails the load with `cvd.body.too-large`; `loadContainer`'s
 * `maxUnpackedBytes` option lowers or raises it for one call.
 */
export const MAX_CONTAINER_UNPACKED_BYTES = 1024 * 1024 * 1024;

export type ContainerKind = 'cvd' | 'cld' | 'cud';

export interface CvdHeader {
  /** The header text without its space padding. */
  text: string;
  /** Build time as stored, with `-` where a clock would have `:` (e.g. `22 Jun 2021 21-34 -0400`). */
  buildTime: string;
  version: number;
  /** Number of signatures the builder declared. */
  sigs: number;
  /** Minimum functionality level. */
  flevel: number;
  /** MD5 of bytes 512..EOF as 32 lower-case hex digits, or `X` when absent. */
  md5: string;
  /** ClamAV base-64 signature of the MD5, or `X` when absent. */
  dsig: string;
  builder: string;
  /** Build time in Unix seconds; undefined in old headers that end after the builder. */
  stime: number | undefined;
  /** The raw fields after the magic, for byte-exact comparison with the `.info` copy. */
  fields: readonly string[];
}

export interface ContainerFile {
  name: string;
  /** The member's bytes (a view into the unpacked body). */
  data: Uint8Array;
}

export interface ContainerLoad {
  header: CvdHeader | undefined;
  kind: ContainerKind;
  official: boolean;
  /** Database members in tar order, without `COPYING` and the `.info`; empty on any error. */
  files: ContainerFile[];
  diagnostics: Diagnostic[];
}

export interface LoadOptions {
  /**
   * Load a `.cvd` or `.cld` whose signatures are absent (header dsig or MD5 `X`, or no `DSIG:`
   * line in the `.info`) as unofficial instead of refusing it. A signature that is present but
   * wrong is refused regardless.
   */
  allowUnsigned?: boolean;
  /** Overrides MAX_CONTAINER_UNPACKED_BYTES for this call (a positive integer; capped at Node's largest Buffer). */
  maxUnpackedBytes?: number;
}

// ---------------------------------------------------------------------------------------------
// Keys and signature schemes (reference §2.2)

export interface ClamRsaKey {
  readonly name: string;
  readonly n: bigint;
  readonly e: bigint;
  /** Modulus size in bytes (the signature block size). */
  readonly bytes: number;
  /** Base-64 digits needed to write any number below the modulus. */
  readonly digits: number;
}

function rsaKey(name: string, modulus: string, exponent: bigint): ClamRsaKey {
  const n = BigInt(modulus);
  const bits = n.toString(2).length;
  return Object.freeze({ name, n, e: exponent, bytes: Math.ceil(bits / 8), digits: Math.ceil(bits / 6) });
}

/** `CLI_NSTR`/`CLI_ESTR` (libclamav/dsig.c): 1024-bit key of the CVD header signature, raw RSA. */
export const CVD_KEY = rsaKey(
  'CVD header',
  '118640995551645342603070001658453189751527774412027743746599405743243142607464144767361060640655844749760788890022283424922762488917565551002467771109669598189410434699034532232228621591089508178591428456220796841621637175567590476666928698770143328137383952820383197532047771780196576957695822641224262693037',
  100001027n,
);

/** `INFO_NSTR`/`INFO_ESTR` (libclamav/readdb.c): 2047-bit key of the `.info` DSIG, RSASSA-PSS. */
export const INFO_KEY = rsaKey(
  '.info DSIG',
  '11088894983048545473659556106627194923928941791795047620591658697413581043322715912172496806525381055880964520618400224333320534660299233983755341740679502866829909679955734391392668378361221524205396631090105151641270857277080310734320951653700508941717419168723942507890702904702707587451621691050754307850383399865346487203798464178537392211402786481359824461197231102895415093770394216666324484593935762408468516826633192140826667923494822045805347809932848454845886971706424360558667862775876072059437703365380209101697738577515476935085469455279994113145977994084618328482151013142393373316337519977244732747977',
  100002049n,
);

/** `PUBLIC_KEY_MODULUS`/`_EXPONENT` (libclamav_rust/src/cdiff.rs): 2047-bit key of `.cdiff` signatures, RSASSA-PSS. */
export const CDIFF_KEY = rsaKey(
  '.cdiff signature',
  '14783905874077467090262228516557917570254599638376203532031989214105552847269687489771975792123442185817287694951949800908791527542017115600501303394778618535864845235700041590056318230102449612217458549016089313306591388590790796515819654102320725712300822356348724011232654837503241736177907784198700834440681124727060540035754699658105895050096576226753008596881698828185652424901921668758326578462003247906470982092298106789657211905488986281078346361469524484829559560886227198091995498440676639639830463593211386055065360288422394053998134458623712540683294034953818412458362198117811990006021989844180721010947',
  100002053n,
);

/** ClamAV's base-64 alphabet (`cli_ndecode`): lower case first, so not RFC 4648. */
export const CLAM_BASE64_ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/';
const DIGIT = new Int8Array(256).fill(-1);
for (let i = 0; i < CLAM_BASE64_ALPHABET.length; i++) DIGIT[CLAM_BASE64_ALPHABET.charCodeAt(i)] = i;

/** Longest text decodeClamBase64 accepts; real signatures have at most 342 digits. */
const MAX_BASE64_DIGITS = 4096;

/**
 * ClamAV base-64 → number. The number is little-endian: the first character is the least
 * significant digit, `value = Σ digit[i] · 64^i`. Undefined for a character outside the
 * alphabet or text longer than 4096 characters (decoding cost grows with the square of the length).
 */
export function decodeClamBase64(text: string): bigint | undefined {
  if (text.length > MAX_BASE64_DIGITS) return undefined;
  let c = 0n;
  for (let i = text.length - 1; i >= 0; i--) {
    const code = text.charCodeAt(i);
    const d = code < 256 ? DIGIT[code]! : -1;
    if (d < 0) return undefined;
    c = (c << 6n) | BigInt(d);
  }
  return c;
}

/** Outcome of a signature check; `reason` completes the sentence "digital signature …". */
export type SignatureCheck = { ok: true } | { ok: false; reason: string };

/**
 * A signature must be written canonically: only alphabet characters, a number below the
 * modulus, and no more digits than needed. ClamAV's signers write the minimal number of digits
 * (the `.info` DSIGs of the unit-test databases have 341 or 342); a full-width encoding whose top
 * digit is zero is also accepted. Anything else would let one signature be spelt several ways.
 */
function decodeSignature(key: ClamRsaKey, text: string): bigint | string {
  if (text.length === 0) return 'is empty';
  if (text.length > key.digits) return `is ${text.length} characters long; a signature for the ${key.name} key has at most ${key.digits}`;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 256 || DIGIT[code]! < 0) return `contains ${describeChar(text[i]!)} at position ${i + 1}, which is not in ClamAV's base-64 alphabet`;
  }
  const c = decodeClamBase64(text)!;
  if (c >= key.n) return `encodes a number not below the ${key.name} key's modulus`;
  if (text.length < key.digits && text.endsWith('a')) return 'is not canonically encoded (its most significant digit is a redundant zero)';
  return c;
}

function modPow(base: bigint, exp: bigint, mod: bigint): bigint {
  let result = 1n;
  let b = base % mod;
  let e = exp;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % mod;
    b = (b * b) % mod;
    e >>= 1n;
  }
  return result;
}

/** Minimal big-endian bytes of a non-negative number (empty for zero), like OpenSSL's BN_bn2bin. */
function minimalBytes(v: bigint): Uint8Array {
  if (v === 0n) return new Uint8Array(0);
  let hex = v.toString(16);
  if (hex.length % 2) hex = '0' + hex;
  return Uint8Array.from(Buffer.from(hex, 'hex'));
}

/**
 * The CVD header signature: raw RSA (no padding) of the 16-byte MD5 under CVD_KEY.
 * ClamAV 1.4 writes the recovered number's minimal big-endian bytes at the start of a zeroed
 * 16-byte buffer and compares that with the MD5, so a recovered number with leading zero bytes
 * never matches; the same comparison is made here.
 */
export function verifyCvdSignature(md5: Uint8Array, dsig: string): SignatureCheck {
  if (md5.length !== 16) return { ok: false, reason: 'cannot be checked: the MD5 is not 16 bytes' };
  const c = decodeSignature(CVD_KEY, dsig);
  if (typeof c === 'string') return { ok: false, reason: c };
  const m = minimalBytes(modPow(c, CVD_KEY.e, CVD_KEY.n));
  if (m.length > 16) return { ok: false, reason: 'does not match the header MD5 (it decodes to a number wider than an MD5)' };
  const plain = new Uint8Array(16);
  plain.set(m, 0);
  for (let i = 0; i < 16; i++) if (plain[i] !== md5[i]) return { ok: false, reason: 'does not match the header MD5' };
  return { ok: true };
}

const PSS_HASH = 32;
const PSS_SALT = 32;

function sha256(...parts: Uint8Array[]): Uint8Array {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
}

/**
 * RSASSA-PSS with SHA-256, MGF1-SHA-256, a 32-byte salt and trailer 0xbc (`cli_versig2`).
 *
 * Decoded here rather than by node:crypto because ClamAV's signer is not standard PSS for its
 * 2047-bit keys: it clears only the top bit of the 256-byte encoded message, where RFC 8017 (and
 * OpenSSL) require the top two bits clear for a 2047-bit modulus. A standard verifier therefore
 * refuses every genuine signature whose second bit happens to be set, test-5.cvd's `.info` DSIG
 * among them. The rules are ClamAV 1.4's: the encoded message is the recovered number's minimal
 * big-endian bytes and must fill all 256 bytes (ClamAV's decoder drops leading zeros and then
 * misses the trailer); the unmasked block, top bit cleared, must be padding, 0x01, then the salt;
 * and SHA-256(8 zero bytes ‖ SHA-256(signed) ‖ salt) must equal the stored hash. The padding must
 * be zeros (ClamAV only looks for the first 0x01), so that one signature has one spelling.
 */
export function verifyPssSignature(key: ClamRsaKey, signed: Uint8Array, dsig: string): SignatureCheck {
  const s = decodeSignature(key, dsig);
  if (typeof s === 'string') return { ok: false, reason: s };
  const invalid = (why: string): SignatureCheck => ({ ok: false, reason: `does not verify under the ${key.name} key (${why})` });
  const em = minimalBytes(modPow(s, key.e, key.n));
  const len = key.bytes;
  if (em.length !== len) return invalid('the encoded message does not fill the block; ClamAV 1.4 cannot decode it');
  if (em[len - 1] !== 0xbc) return invalid('the encoded message does not end with 0xbc');
  const dbLen = len - PSS_HASH - 1;
  const h = em.subarray(dbLen, len - 1);
  const db = new Uint8Array(dbLen);
  // MGF1-SHA-256 mask over H, counter big-endian.
  for (let counter = 0, off = 0; off < dbLen; counter++, off += PSS_HASH) {
    const c = new Uint8Array([counter >>> 24, (counter >>> 16) & 0xff, (counter >>> 8) & 0xff, counter & 0xff]);
    const block = sha256(h, c);
    for (let i = 0; i < PSS_HASH && off + i < dbLen; i++) db[off + i] = em[off + i]! ^ block[i]!;
  }
  db[0]! &= 0x7f;
  const sep = dbLen - PSS_SALT - 1;
  for (let i = 0; i < sep; i++) if (db[i] !== 0) return invalid('the padding before the salt is not zero');
  if (db[sep] !== 0x01) return invalid('no 0x01 separator before the salt');
  const salt = db.subarray(sep + 1);
  const expected = sha256(new Uint8Array(8), sha256(signed), salt);
  for (let i = 0; i < PSS_HASH; i++) if (expected[i] !== h[i]) return invalid('the hash does not match the signed bytes');
  return { ok: true };
}

/** The `.info` `DSIG:` signature over every byte before the `DSIG:` line. */
export function verifyInfoSignature(signed: Uint8Array, dsig: string): SignatureCheck {
  return verifyPssSignature(INFO_KEY, signed, dsig);
}

/** A `.cdiff` signature over the file's bytes before its last `:`. */
export function verifyCdiffSignature(signed: Uint8Array, dsig: string): SignatureCheck {
  return verifyPssSignature(CDIFF_KEY, signed, dsig);
}

/** Longest `.cdiff` trailing signature (libclamav_rust/src/cdiff.rs `SIG_SIZE`). */
const CDIFF_MAX_DSIG = 350;

/**
 * A whole `.cdiff` file: `ClamAV-Diff:<version>:<length>:<gzip script>:<dsig>`. The signature
 * is the text after the last `:` (at most 350 characters) and covers every byte before that `:`.
 */
export function verifyCdiffFile(bytes: Uint8Array): SignatureCheck {
  const from = Math.max(0, bytes.length - CDIFF_MAX_DSIG - 1);
  const colon = bytes.lastIndexOf(0x3a);
  if (colon < from) return { ok: false, reason: `is missing: no ':' in the last ${CDIFF_MAX_DSIG + 1} bytes` };
  const dsig = Buffer.from(bytes.buffer, bytes.byteOffset + colon + 1, bytes.length - colon - 1).toString('latin1');
  return verifyCdiffSignature(bytes.subarray(0, colon), dsig);
}

// ---------------------------------------------------------------------------------------------
// Header

const FIELD_NAMES = ['build time', 'version', 'signature count', 'functionality level', 'MD5', 'digital signature', 'builder', 'build time in seconds'] as const;
const MAX_U32 = 0xffffffff;

/**
 * header = "ClamAV-VDB:" time ":" version ":" sigs ":" flevel ":" md5 ":" dsig ":" builder [":" stime]
 * Every field non-empty; numbers are decimal; md5 is `X` or 32 lower-case hex digits; dsig is `X`
 * or ClamAV base-64. `subject` names the header in messages ("test.cvd: header", …).
 */
function parseHeaderText(text: string, subject: string, diagnostics: Diagnostic[]): CvdHeader | undefined {
  if (!text.startsWith('ClamAV-VDB:')) {
    diagnostics.push(error('cvd.header.magic', `${subject} does not start with 'ClamAV-VDB:' (found ${JSON.stringify(text.slice(0, 11))}); this is not a ClamAV database`));
    return undefined;
  }
  const fields = text.slice(11).split(':');
  if (fields.length !== 8 && fields.length !== 7) {
    diagnostics.push(error('cvd.header.fields', `${subject} has ${fields.length + 1} colon-separated fields; expected 9 (ClamAV-VDB:time:version:signatures:flevel:md5:dsig:builder:stime)`));
    return undefined;
  }
  let ok = true;
  const bad = (code: string, message: string) => {
    diagnostics.push(error(code, `${subject} ${message}`));
    ok = false;
  };
  fields.forEach((f, i) => {
    if (f === '') bad('cvd.header.field', `${FIELD_NAMES[i]} field is empty`);
  });
  const num = (i: number): number => {
    const f = fields[i]!;
    if (f === '') return 0;
    if (!/^\d+$/.test(f) || Number(f) > MAX_U32) {
      bad('cvd.header.field', `${FIELD_NAMES[i]} ${JSON.stringify(f)} is not a decimal number below 2^32`);
      return 0;
    }
    return Number(f);
  };
  const buildTime = fields[0]!;
  const version = num(1);
  const sigs = num(2);
  const flevel = num(3);
  const md5 = fields[4]!;
  const dsig = fields[5]!;
  const builder = fields[6]!;
  const stime = fields.length === 8 ? num(7) : undefined;
  if (md5 !== '' && md5 !== 'X' && !/^[0-9a-f]{32}$/.test(md5)) {
    bad('cvd.header.md5', `MD5 ${JSON.stringify(md5)} is neither X nor 32 lower-case hex digits`);
  }
  if (dsig !== '' && dsig !== 'X') {
    for (let i = 0; i < dsig.length; i++) {
      if (DIGIT[dsig.charCodeAt(i)]! < 0) {
        bad('cvd.header.dsig', `digital signature contains ${describeChar(dsig[i]!)} at position ${i + 1}, which is not in ClamAV's base-64 alphabet`);
        break;
      }
    }
  }
  if (buildTime !== '' && !/^\d{2} [A-Z][a-z]{2} \d{4} \d{2}-\d{2} [+-]\d{4}$/.test(buildTime)) {
    diagnostics.push(warning('cvd.header.build-time', `${subject} build time ${JSON.stringify(buildTime)} is not in sigtool's form 'DD Mon YYYY HH-MM +ZZZZ'`));
  }
  if (!ok) return undefined;
  return { text, buildTime, version, sigs, flevel, md5, dsig, builder, stime, fields };
}

/**
 * The 512-byte header → its fields. The header is printable ASCII followed by space padding;
 * anything else in those 512 bytes (a NUL, a newline, a byte above 0x7e, a non-space after the
 * last field) is an error, although ClamAV would stop reading at the first NUL.
 */
export function parseCvdHeader(bytes: Uint8Array, fileName = 'database'): { header: CvdHeader | undefined; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  if (bytes.length < CVD_HEADER_SIZE) {
    diagnostics.push(error('cvd.header.truncated', `${fileName}: the file is ${bytes.length} bytes, too short for the ${CVD_HEADER_SIZE}-byte ClamAV-VDB header`));
    return { header: undefined, diagnostics };
  }
  let end = CVD_HEADER_SIZE;
  while (end > 0 && bytes[end - 1] === 0x20) end--;
  for (let i = 0; i < end; i++) {
    const b = bytes[i]!;
    if (b < 0x20 || b > 0x7e) {
      diagnostics.push(error('cvd.header.byte', `${fileName}: header byte at offset ${i} is 0x${b.toString(16).padStart(2, '0')}; the header must be printable ASCII padded with spaces`));
      return { header: undefined, diagnostics };
    }
  }
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, end).toString('latin1');
  // The last field (stime) holds no spaces, so a space after the last colon starts the padding:
  // anything else after it is a changed padding byte, reported as such.
  const lastColon = text.startsWith('ClamAV-VDB:') ? text.lastIndexOf(':') : -1;
  const space = lastColon < 0 ? -1 : text.indexOf(' ', lastColon);
  if (space >= 0) {
    let i = space;
    while (text[i] === ' ') i++;
    diagnostics.push(error('cvd.header.padding', `${fileName}: header padding byte at offset ${i} is ${describeChar(text[i]!)}; the padding after the last field must be spaces`));
    return { header: undefined, diagnostics };
  }
  const header = parseHeaderText(text, `${fileName}: header`, diagnostics);
  return { header, diagnostics };
}

/** Build time as sigtool -i prints it: the first `-` turned back into `:`. */
export function displayBuildTime(buildTime: string): string {
  return buildTime.replace('-', ':');
}

// ---------------------------------------------------------------------------------------------
// Body: gzip and tar

/** zlib's own CRC-32 where Node has it (20.15 and later); a table-driven one otherwise. */
const nativeCrc32 = (zlib as { crc32?: (data: Uint8Array) => number }).crc32;
let crcTable: Uint32Array | undefined;

function crc32(data: Uint8Array): number {
  if (nativeCrc32) return nativeCrc32(data) >>> 0;
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = crcTable[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

type Unpacked = { data: Uint8Array } | { code: string; message: string };

/**
 * gzip-member = header deflate-stream crc32 isize (RFC 1952). Exactly one member, with its CRC
 * and length checked and nothing after it: zlib's gzread, which ClamAV uses, would also read a
 * second member and skip trailing garbage, bytes no header MD5 of a `.cld` or `.cud` covers.
 */
function gunzipStrict(gz: Uint8Array, maxOut: number): Unpacked {
  const bad = (message: string): Unpacked => ({ code: 'cvd.gzip', message });
  if (gz.length < 2 || gz[0] !== 0x1f || gz[1] !== 0x8b) {
    return bad(`the body is neither gzip data (it starts with ${hexBytes(gz.subarray(0, 2))}, not 1f 8b) nor a plain tar starting with COPYING`);
  }
  if (gz.length < 18) return bad(`the gzip body is truncated (${gz.length} bytes; a gzip stream has at least 18)`);
  if (gz[2] !== 8) return bad(`the gzip body uses compression method ${gz[2]}, not deflate (8)`);
  const flags = gz[3]!;
  if (flags & 0xe0) return bad(`the gzip header sets reserved flag bits (flags 0x${flags.toString(16)})`);
  let p = 10;
  if (flags & 0x04) {
    if (p + 2 > gz.length) return bad('the gzip body is truncated inside its extra field');
    p += 2 + (gz[p]! | (gz[p + 1]! << 8));
  }
  for (const flag of [0x08, 0x10]) {
    if (flags & flag) {
      while (p < gz.length && gz[p] !== 0) p++;
      p++;
    }
  }
  if (flags & 0x02) {
    if (p + 2 > gz.length) return bad('the gzip body is truncated inside its header');
    const want = gz[p]! | (gz[p + 1]! << 8);
    if ((crc32(gz.subarray(0, p)) & 0xffff) !== want) return bad('the gzip header CRC does not match the header');
    p += 2;
  }
  if (p >= gz.length) return bad('the gzip body is truncated inside its header');
  let out: Buffer;
  let consumed: number;
  try {
    const r = zlib.inflateRawSync(gz.subarray(p), { maxOutputLength: maxOut, info: true }) as unknown as { buffer: Buffer; engine: { bytesWritten: number } };
    out = r.buffer;
    consumed = r.engine.bytesWritten;
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    if (code === 'ERR_BUFFER_TOO_LARGE') {
      return { code: 'cvd.body.too-large', message: `the body unpacks to more than ${maxOut} bytes (MAX_CONTAINER_UNPACKED_BYTES)` };
    }
    if (code === 'Z_BUF_ERROR') return bad('the gzip stream is truncated (it ends before the end of the compressed data)');
    return bad(`the gzip stream is corrupt (${(e as Error).message})`);
  }
  const t = p + consumed;
  if (t + 8 > gz.length) return bad(`the gzip body is truncated: its 8-byte CRC and length trailer is ${gz.length - t < 0 ? 0 : gz.length - t} bytes`);
  const crc = (gz[t]! | (gz[t + 1]! << 8) | (gz[t + 2]! << 16) | (gz[t + 3]! << 24)) >>> 0;
  const isize = (gz[t + 4]! | (gz[t + 5]! << 8) | (gz[t + 6]! << 16) | (gz[t + 7]! << 24)) >>> 0;
  const actualCrc = crc32(out);
  if (crc !== actualCrc) return bad(`the gzip CRC-32 ${hex32(crc)} does not match the unpacked data (${hex32(actualCrc)})`);
  if (isize !== out.length % 0x100000000) return bad(`the gzip trailer gives an unpacked length of ${isize} bytes but the data is ${out.length}`);
  const extra = gz.length - (t + 8);
  if (extra > 0) {
    const what = gz[t + 8] === 0x1f && gz[t + 9] === 0x8b ? 'a second gzip member' : 'trailing data';
    return bad(`${extra} bytes follow the end of the gzip stream (${what} at body offset ${t + 8})`);
  }
  return { data: new Uint8Array(out.buffer, out.byteOffset, out.length) };
}

// ---------------------------------------------------------------------------------------------
// .info

interface InfoEntry {
  size: number;
  sha256: string;
  line: number;
}

interface InfoListing {
  header: CvdHeader;
  entries: Map<string, InfoEntry>;
  /** The DSIG text and the bytes it signs, when the `.info` has a DSIG line. */
  dsig: { text: string; signed: Uint8Array; line: number } | undefined;
}

const MAX_INFO_SIZE = 2147483647;

/**
 * info = header-line LF *( name ":" size ":" sha256 LF ) [ "DSIG:" signature LF ]
 * Like `cli_loadinfo`, but nothing may follow the DSIG line, the file must end with a newline and
 * contain no NUL, and names must be unique. In a `.cud` there is no DSIG line: ClamAV reads one
 * as an entry with two fields and fails, and so does this.
 */
function parseInfo(data: Uint8Array, kind: ContainerKind, subject: string, diagnostics: Diagnostic[]): InfoListing | undefined {
  const before = diagnostics.length;
  const bad = (code: string, message: string) => diagnostics.push(error(code, `${subject} ${message}`));
  if (data.length === 0) {
    bad('cvd.info.format', 'is empty');
    return undefined;
  }
  const nul = data.indexOf(0);
  if (nul >= 0) {
    bad('cvd.info.format', `contains a NUL byte at offset ${nul}`);
    return undefined;
  }
  if (data[data.length - 1] !== 0x0a) {
    bad('cvd.info.format', 'does not end with a newline');
    return undefined;
  }
  const text = Buffer.from(data.buffer, data.byteOffset, data.length).toString('latin1');
  let header: CvdHeader | undefined;
  const entries = new Map<string, InfoEntry>();
  let dsig: InfoListing['dsig'];
  let start = 0;
  let line = 0;
  while (start < text.length) {
    const nl = text.indexOf('\n', start);
    const raw = text.slice(start, nl);
    const lineStart = start;
    start = nl + 1;
    line++;
    if (raw.length >= ENGINE_LIMITS.maxDbLine) {
      bad('cvd.info.format', `line ${line} is ${raw.length} bytes long; the limit is ${ENGINE_LIMITS.maxDbLine - 1}`);
      return undefined;
    }
    if (dsig) {
      bad('cvd.info.format', `line ${line} follows the DSIG line, which must be the last`);
      return undefined;
    }
    if (kind !== 'cud' && raw.startsWith('DSIG:')) {
      if (!header) {
        bad('cvd.info.format', `line ${line} is a DSIG line before the ClamAV-VDB header line`);
        return undefined;
      }
      dsig = { text: raw.slice(5), signed: data.subarray(0, lineStart), line };
      continue;
    }
    // cli_chomp: trailing CR and LF are not part of the line.
    const content = raw.replace(/[\r\n]+$/, '');
    if (content.startsWith('ClamAV-VDB:')) {
      if (header || line !== 1) {
        bad('cvd.info.format', `line ${line} is a second ClamAV-VDB header line`);
        return undefined;
      }
      header = parseHeaderText(content, `${subject} header line`, diagnostics);
      if (!header) return undefined;
      continue;
    }
    if (!header) {
      bad('cvd.info.format', `line ${line} comes before the ClamAV-VDB header line, which must be first`);
      return undefined;
    }
    const fields = tokenize(content, ':', 4);
    if (fields.length !== 3) {
      const hint = kind === 'cud' && content.startsWith('DSIG:') ? ' (a .cud is unsigned: ClamAV 1.4 reads a DSIG line there as a malformed entry)' : '';
      bad('cvd.info.format', `line ${line} has ${fields.length} colon-separated fields; expected name:size:sha256${hint}`);
      continue;
    }
    const [name, size, sha] = fields as [string, string, string];
    if (name === '') bad('cvd.info.format', `line ${line} has an empty file name`);
    if (!/^\d+$/.test(size) || Number(size) > MAX_INFO_SIZE) bad('cvd.info.format', `line ${line}: size ${JSON.stringify(size)} of ${name} is not a decimal number below 2^31`);
    if (!/^[0-9a-fA-F]{64}$/.test(sha)) bad('cvd.info.format', `line ${line}: SHA-256 of ${name} is not 64 hex digits`);
    if (entries.has(name)) bad('cvd.info.format', `line ${line} lists ${name} a second time (first on line ${entries.get(name)!.line})`);
    else entries.set(name, { size: Number(size), sha256: sha.toLowerCase(), line });
  }
  if (!header) {
    bad('cvd.info.format', 'has no ClamAV-VDB header line');
    return undefined;
  }
  if (diagnostics.length > before && hasErrors(diagnostics.slice(before))) return undefined;
  return { header, entries, dsig };
}

// ---------------------------------------------------------------------------------------------
// Loading

/** Per-check outcome, for `cvdInfo`. */
export type CheckStatus = 'ok' | 'absent' | 'failed' | 'not-checked';

interface LoadDetail extends ContainerLoad {
  md5: CheckStatus;
  headerSignature: CheckStatus;
  infoSignature: CheckStatus;
  /** Every tar member (COPYING and the `.info` included) with its size, when the tar was read. */
  members: { name: string; size: number }[];
}

/** Container kind from the file name (case-insensitive suffix, like `cli_strbcasestr`). */
export function containerKind(fileName: string): ContainerKind | undefined {
  const m = /\.(cvd|cld|cud)$/i.exec(fileName);
  return m ? (m[1]!.toLowerCase() as ContainerKind) : undefined;
}

const HEADER_COMPARED: readonly [number, string][] = [
  [0, 'build time'], [1, 'version'], [2, 'signature count'], [3, 'functionality level'], [6, 'builder'], [7, 'build time in seconds'],
];

function load(bytes: Uint8Array, fileName: string, opts: LoadOptions): LoadDetail {
  const diagnostics: Diagnostic[] = [];
  const allowUnsigned = opts.allowUnsigned === true;
  const asked = opts.maxUnpackedBytes ?? MAX_CONTAINER_UNPACKED_BYTES;
  const maxOut = Number.isSafeInteger(asked) && asked > 0 ? Math.min(asked, bufferConstants.MAX_LENGTH) : MAX_CONTAINER_UNPACKED_BYTES;
  const named = containerKind(fileName);
  const kind: ContainerKind = named ?? 'cvd';
  const out: LoadDetail = {
    header: undefined, kind, official: false, files: [], diagnostics,
    md5: 'not-checked', headerSignature: 'not-checked', infoSignature: 'not-checked', members: [],
  };
  const fail = (code: string, message: string): LoadDetail => {
    diagnostics.push(error(code, `${fileName}: ${message}`));
    return out;
  };
  if (!named) return fail('cvd.kind', 'cannot tell the container kind: the file name must end in .cvd, .cld or .cud');

  const parsed = parseCvdHeader(bytes, fileName);
  diagnostics.push(...parsed.diagnostics);
  const header = parsed.header;
  out.header = header;
  if (!header || hasErrors(diagnostics)) return out;
  if (header.flevel > ENGINE_FLEVEL) {
    diagnostics.push(warning('cvd.flevel', `${fileName}: functionality level ${header.flevel} is above this engine's ${ENGINE_FLEVEL}; ClamAV warns that the engine is outdated and loads it anyway`));
  }

  const body = bytes.subarray(CVD_HEADER_SIZE);
  if (body.length === 0) return fail('cvd.body.missing', `the container has no body after its ${CVD_HEADER_SIZE}-byte header`);

  // Header MD5 and signature: required for .cvd; a present MD5 is checked in every kind.
  let signed = kind !== 'cud';
  let bodyMd5: Uint8Array | undefined;
  if (header.md5 === 'X') {
    out.md5 = 'absent';
  } else {
    bodyMd5 = createHash('md5').update(body).digest();
    const actual = Buffer.from(bodyMd5).toString('hex');
    if (actual !== header.md5) {
      out.md5 = 'failed';
      return fail('cvd.md5', `the MD5 of the body (bytes ${CVD_HEADER_SIZE}..${bytes.length - 1}) is ${actual}, not ${header.md5} as the header says`);
    }
    out.md5 = 'ok';
  }
  if (kind === 'cvd') {
    if (header.dsig === 'X' || !bodyMd5) {
      out.headerSignature = 'absent';
      const what = header.dsig === 'X' ? 'the header has no digital signature (its dsig field is X)' : 'the header has no MD5 (its md5 field is X), so its digital signature cannot be checked';
      if (!allowUnsigned) return fail('cvd.dsig', what);
      signed = false;
      diagnostics.push(warning('cvd.unsigned', `${fileName}: ${what}; loading it as unofficial`));
    } else {
      const check = verifyCvdSignature(bodyMd5, header.dsig);
      if (!check.ok) {
        out.headerSignature = 'failed';
        return fail('cvd.dsig', `digital signature ${check.reason}`);
      }
      out.headerSignature = 'ok';
    }
  }

  // Body: a plain tar when it starts with COPYING (cli_tgzload tests this for every kind), else gzip.
  let tarBytes: Uint8Array;
  if (body.length < 18 && !Buffer.from(body.buffer, body.byteOffset, body.length).toString('latin1').startsWith('COPYING')) {
    return fail('cvd.body.truncated', `the body is ${body.length} bytes, too short for a gzip stream or a tar`);
  }
  if (body.length >= 7 && Buffer.from(body.buffer, body.byteOffset, 7).toString('latin1') === 'COPYING') {
    if (body.length > maxOut) return fail('cvd.body.too-large', `the body is ${body.length} bytes, more than ${maxOut} (MAX_CONTAINER_UNPACKED_BYTES)`);
    tarBytes = body;
  } else {
    const un = gunzipStrict(body, maxOut);
    if ('code' in un) return fail(un.code, un.message);
    tarBytes = un.data;
  }

  // Tar: every diagnostic is fatal here, warnings included (padding, trailing data).
  const tar = readTar(tarBytes);
  for (const d of tar.diagnostics) diagnostics.push(error(d.code, `${fileName}: tar: ${d.message}`));
  if (hasErrors(diagnostics)) return out;
  out.members = tar.entries.map((e) => ({ name: e.name, size: e.data.length }));
  if (tar.entries.length === 0) return fail('cvd.tar.empty', 'the tar inside the container has no entries');

  const seen = new Set<string>();
  for (const e of tar.entries) {
    const at = `tar entry '${e.name}' at offset ${e.offset}`;
    if (e.extensions.length > 0) {
      fail('cvd.member.type', `${at} uses ${e.extensions.map(extensionName).join(' and ')}; a ClamAV container holds plain regular files only`);
    } else if (e.typeflag !== '0' && e.typeflag !== '\0') {
      fail('cvd.member.type', `${at} is a ${e.type} (typeflag ${JSON.stringify(e.typeflag)}); a ClamAV container holds regular files only`);
    } else if (e.name.includes('/')) {
      fail('cvd.member.name', `${at}: slash separators are not allowed in a ClamAV container`);
    } else if (e.name === '' || e.name === '.' || e.name === '..' || e.name.includes('\\')) {
      fail('cvd.member.name', `${at} has a name that is not a plain file name`);
    } else if (seen.has(e.name)) {
      fail('cvd.member.duplicate', `${at} repeats the name of an earlier member`);
    }
    seen.add(e.name);
  }
  if (hasErrors(diagnostics)) return out;

  // The .info: the one member whose name ends in .info (ClamAV takes the first; a second is refused here).
  const infos = tar.entries.filter((e) => e.name.toLowerCase().endsWith('.info'));
  if (infos.length === 0) return fail('cvd.info.missing', 'the container has no .info member (its signed list of files)');
  if (infos.length > 1) return fail('cvd.info.multiple', `the container has ${infos.length} .info members (${infos.map((e) => e.name).join(', ')}); it must have one`);
  const infoEntry = infos[0]!;
  const infoName = infoEntry.name;
  const info = parseInfo(infoEntry.data, kind, `${fileName}: ${infoName}`, diagnostics);
  if (!info) return out;

  if (kind === 'cud') {
    out.infoSignature = 'absent';
  } else if (!info.dsig) {
    out.infoSignature = 'absent';
    if (!allowUnsigned) return fail('cvd.info.dsig', `${infoName} has no DSIG line (its digital signature)`);
    signed = false;
    diagnostics.push(warning('cvd.unsigned', `${fileName}: ${infoName} has no DSIG line; loading the container as unofficial`));
  } else {
    const check = verifyInfoSignature(info.dsig.signed, info.dsig.text);
    if (!check.ok) {
      out.infoSignature = 'failed';
      return fail('cvd.info.dsig', `${infoName} line ${info.dsig.line}: digital signature ${check.reason}`);
    }
    out.infoSignature = 'ok';
  }

  // The .info header line must repeat the container header (md5 and dsig are X there).
  const ih = info.header;
  for (const [i, label] of HEADER_COMPARED) {
    const a = header.fields[i];
    const b = ih.fields[i];
    if (a !== b) {
      fail('cvd.info.header', `header ${label} ${a === undefined ? '(absent)' : `'${a}'`} differs from the one in ${infoName} (${b === undefined ? 'absent' : `'${b}'`})`);
    }
  }
  if (ih.md5 !== 'X' || ih.dsig !== 'X') {
    fail('cvd.info.header', `${infoName} header line has MD5 '${ih.md5}' and digital signature '${ih.dsig.length > 16 ? ih.dsig.slice(0, 16) + '…' : ih.dsig}'; both must be X there`);
  }
  if (hasErrors(diagnostics)) return out;

  // Every member but COPYING and the .info is listed with its size and SHA-256, and every listed file is present.
  const files: ContainerFile[] = [];
  for (const e of tar.entries) {
    if (e === infoEntry) continue;
    const listed = info.entries.get(e.name);
    if (!listed) {
      if (e.name !== 'COPYING') fail('cvd.member.unlisted', `${e.name} is not listed in ${infoName}`);
      continue;
    }
    if (listed.size !== e.data.length) {
      fail('cvd.member.size', `${e.name}: size ${e.data.length} differs from the one in ${infoName} (${listed.size})`);
      continue;
    }
    const sha = createHash('sha256').update(e.data).digest('hex');
    if (sha !== listed.sha256) {
      fail('cvd.member.sha256', `${e.name}: SHA-256 differs from the one in ${infoName} (found ${sha}, listed ${listed.sha256})`);
      continue;
    }
    if (e.name !== 'COPYING') files.push({ name: e.name, data: e.data });
  }
  for (const [name, listed] of info.entries) {
    if (!seen.has(name)) fail('cvd.member.missing', `${name} is listed in ${infoName} (line ${listed.line}) but missing from the container`);
  }
  if (hasErrors(diagnostics)) return out;

  out.files = files;
  out.official = signed && kind !== 'cud';
  return out;
}

/**
 * Verifies and unpacks a `.cvd`, `.cld` or `.cud` under ClamAV 1.4's policy, made strict where
 * ClamAV is lenient (see the file comment). Never throws.
 */
export function loadContainer(bytes: Uint8Array, fileName: string, opts: LoadOptions = {}): ContainerLoad {
  const r = load(bytes, fileName, opts);
  return { header: r.header, kind: r.kind, official: r.official, files: r.files, diagnostics: r.diagnostics };
}

// ---------------------------------------------------------------------------------------------
// Inspection (`vigil db info`, like `sigtool -i`)

export interface CvdInfo {
  fileName: string;
  kind: ContainerKind;
  header: CvdHeader | undefined;
  /** Build time with `:` restored, as sigtool -i prints it. */
  buildTime: string | undefined;
  md5: CheckStatus;
  headerSignature: CheckStatus;
  infoSignature: CheckStatus;
  /** `ok`: loads as official; `unsigned`: loads as unofficial; `failed`: refused. */
  verification: 'ok' | 'unsigned' | 'failed';
  official: boolean;
  /** Every tar member (COPYING and the .info included) with its size, when the tar could be read. */
  members: { name: string; size: number }[];
  diagnostics: Diagnostic[];
}

/**
 * Header fields and verification status of a container. The kind comes from `fileName` when it
 * ends in .cvd/.cld/.cud, else from the header: a dsig means `.cvd`, an MD5 without one `.cud`
 * (what `sigtool --build --unsigned` writes), neither `.cld`. Verification is a full load, as
 * `sigtool -i` does through `cl_cvdverify`.
 */
export function cvdInfo(bytes: Uint8Array, fileName?: string, opts: LoadOptions = {}): CvdInfo {
  let name = fileName ?? 'database';
  let kind = containerKind(name);
  if (!kind) {
    const h = parseCvdHeader(bytes, name).header;
    kind = !h ? 'cvd' : h.dsig !== 'X' ? 'cvd' : h.md5 !== 'X' ? 'cud' : 'cld';
    name = `${name}.${kind}`;
  }
  const r = load(bytes, name, opts);
  const failed = hasErrors(r.diagnostics);
  return {
    fileName: fileName ?? name,
    kind: r.kind,
    header: r.header,
    buildTime: r.header ? displayBuildTime(r.header.buildTime) : undefined,
    md5: r.md5,
    headerSignature: r.headerSignature,
    infoSignature: r.infoSignature,
    verification: failed ? 'failed' : r.official ? 'ok' : 'unsigned',
    official: r.official,
    members: r.members,
    diagnostics: r.diagnostics,
  };
}

/** `sigtool -i` style text: the header fields, then the verification outcome. */
export function formatCvdInfo(info: CvdInfo): string {
  const lines = [`File: ${info.fileName}`];
  const h = info.header;
  if (h) {
    lines.push(
      `Build time: ${info.buildTime}`,
      `Version: ${h.version}`,
      `Signatures: ${h.sigs}`,
      `Functionality level: ${h.flevel}`,
      `Builder: ${h.builder}`,
    );
    if (info.kind === 'cvd') lines.push(`MD5: ${h.md5}`, `Digital signature: ${h.dsig}`);
  }
  if (info.verification === 'ok') lines.push('Verification OK.');
  else if (info.verification === 'unsigned') lines.push('Verification: Unsigned container');
  else {
    const first = info.diagnostics.find((d) => d.severity === 'error');
    lines.push(`Verification FAILED: ${first ? first.message : 'unknown error'}`);
  }
  return lines.join('\n') + '\n';
}

// ---------------------------------------------------------------------------------------------

function extensionName(flag: string): string {
  return flag === 'x' ? 'a pax extended header' : flag === 'L' ? 'a GNU long name' : flag === 'K' ? 'a GNU long link name' : `an extension header '${flag}'`;
}

function describeChar(ch: string): string {
  const code = ch.charCodeAt(0);
  return code >= 0x21 && code <= 0x7e ? `'${ch}'` : `byte 0x${code.toString(16).padStart(2, '0')}`;
}

function hexBytes(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ') || 'nothing';
}

function hex32(v: number): string {
  return v.toString(16).padStart(8, '0');
}
