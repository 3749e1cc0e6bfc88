/**
 * Seeded generator of the benchmark corpus: a directory tree of files of mixed kinds and sizes,
 * some of which carry planted detections.
 *
 * In: a seed and a total size (default 1 GiB). Out: `bench/out/corpus-s<seed>-z<bytes>/` holding
 * the files and `manifest.json` (every file's path, kind and size, and every planted signature
 * with the file it hits). The manifest is written last, so a directory without one is an
 * interrupted run and is regenerated; a directory with one for the same seed and size is reused.
 *
 * What is in it (share of bytes in brackets): a few large files of 16-64 MiB (25%): random,
 * compressible, PE and text; medium files of 64 KiB-4 MiB (45%) and many small files of
 * 200 B-64 KiB (30%), of every kind: random binary, compressible binary (zero runs, repeated
 * records, small alphabets, copies), ASCII prose, source-like text (C, JavaScript, Python),
 * UTF-16LE text with a byte-order mark, and PE images from `test/helpers/exe-builders.ts`.
 *
 * Planted hits (a few hundred body signatures, a few dozen hashes, some logical signatures at
 * 1 GiB; scaled down, with a floor, for smaller corpora) are chosen and written here because
 * their bytes must land at offsets that depend on the file (its size, its PE entry point). Each
 * planted file carries exactly one planted signature, so with first-match reporting the
 * expected name of every file is known. Binary signatures go into binary files; text
 * signatures (lower-case letters, digits, `_`) into text files, where they survive ClamAV's
 * normalisation unchanged; target-1 signatures into PE files at `EP+n`, `EOF-n`, absolute or
 * `*` offsets. Files never receive a plant in their first 1 KiB, which holds the headers and the
 * bytes type detection reads.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { buildPe, type PeSectionSpec } from '../test/helpers/exe-builders.js';
import { Prng } from '../test/helpers/prng.js';
import { instantiate, ldbLine, ldbPlacement, ndbLine, platformFor, randomBodyShape, randomLdb, shapeMinLength, sigName, type SigStyle } from './sigs.js';
import { ByteStream, formatBytes } from './util.js';

export type FileKind = 'random' | 'compressible' | 'text' | 'source' | 'utf16' | 'pe';

export interface CorpusFile {
  /** Path relative to the corpus directory, with `/`. */
  path: string;
  kind: FileKind;
  size: number;
}

export interface Plant {
  /** The database the signature belongs in. */
  db: 'ndb' | 'ldb' | 'hdb' | 'hsb';
  /** Corpus-relative path of the file it hits. */
  file: string;
  /** Signature name as written in the database (without `.UNOFFICIAL`). */
  name: string;
  /** The database line. */
  line: string;
  /** Short description, for reports. */
  what: string;
}

export interface CorpusManifest {
  version: number;
  seed: number;
  requestedBytes: number;
  /** `s<seed>-z<bytes>`: names this corpus in cache directory names. */
  key: string;
  totalBytes: number;
  files: CorpusFile[];
  plants: Plant[];
}

const CORPUS_VERSION = 2;
const KIB = 1024;
const MIB = 1024 * 1024;
/** Plants stay out of the first bytes: headers, and what file-type detection reads. */
const HEAD = 1024;

const EXT: Record<FileKind, string[]> = {
  random: ['bin', 'dat', 'enc'],
  compressible: ['db', 'idx', 'raw'],
  text: ['txt', 'md', 'log'],
  // `.es` rather than `.js`: the repository's linter would otherwise read generated files.
  source: ['c', 'es', 'py'],
  utf16: ['txt'],
  pe: ['exe', 'dll'],
};

// ───────────────────────────── content generators ─────────────────────────────

/** Low-entropy binary: zero runs, repeated records, small alphabets and copies of earlier blocks. */
function compressible(n: number, rng: Prng, rs: ByteStream): Buffer {
  const out = Buffer.alloc(n);
  let p = 0;
  while (p < n) {
    const len = Math.min(n - p, rng.int(256, 8192));
    const kind = rng.weighted<'zero' | 'record' | 'alphabet' | 'copy'>([['zero', 1], ['record', 3], ['alphabet', 3], ['copy', p > 16384 ? 3 : 0]]);
    if (kind === 'zero') out.fill(0, p, p + len);
    else if (kind === 'record') {
      const rec = rs.take(rng.int(8, 128));
      for (let i = 0, k = 0; i < len; i++) {
        out[p + i] = rec[k] ?? 0;
        if (++k === rec.length) { k = 0; rec.writeUInt32LE((rec.readUInt32LE(0) + 1) >>> 0, 0); }
      }
    } else if (kind === 'alphabet') {
      const alphabet = rs.take(rng.pick([2, 4, 8, 16]));
      alphabet[0] = 0;
      const mask = alphabet.length - 1;
      const noise = rs.take(len);
      for (let i = 0; i < len; i++) out[p + i] = alphabet[(noise[i] ?? 0) & mask] ?? 0;
    } else {
      const from = rng.int(0, p - len - 1 > 0 ? p - len - 1 : 0);
      out.copy(out, p, from, from + len);
      for (let k = rng.int(0, 8); k > 0; k--) out[p + rng.int(0, len - 1)] = rng.int(0, 255);
    }
    p += len;
  }
  return out;
}

/** Appends ASCII bytes into a buffer of a fixed final length. */
class TextBuilder {
  readonly buf: Buffer;
  pos = 0;
  col = 0;
  constructor(readonly n: number) { this.buf = Buffer.alloc(n + 4096); }
  get full(): boolean { return this.pos >= this.n; }
  str(s: string): void {
    if (this.pos + s.length > this.buf.length) return;
    this.buf.write(s, this.pos, 'latin1');
    this.pos += s.length;
    const nl = s.lastIndexOf('\n');
    this.col = nl >= 0 ? s.length - nl - 1 : this.col + s.length;
  }
  bytes(b: Uint8Array): void {
    if (this.pos + b.length > this.buf.length) return;
    this.buf.set(b, this.pos);
    this.pos += b.length;
    this.col += b.length;
  }
  done(): Buffer { return this.buf.subarray(0, this.n); }
}

class Vocabulary {
  readonly words: Buffer[];
  constructor(rng: Prng, count: number) {
    const seen = new Set<string>();
    this.words = [];
    while (this.words.length < count) {
      const w = rng.word(2, rng.chance(0.2) ? 12 : 8);
      if (!seen.has(w)) { seen.add(w); this.words.push(Buffer.from(w, 'latin1')); }
    }
  }
  /** Zipf-like pick: short common words far more often than rare ones. */
  pick(rng: Prng): Buffer {
    const i = Math.floor(this.words.length * rng.float() ** 3);
    return this.words[i] as Buffer;
  }
  text(rng: Prng): string { return this.pick(rng).toString('latin1'); }
}

/** Paragraphs of sentences, wrapped at 76 columns. */
function prose(n: number, rng: Prng, vocab: Vocabulary): Buffer {
  const b = new TextBuilder(n);
  while (!b.full) {
    for (let s = rng.int(2, 7); s > 0 && !b.full; s--) {
      const words = rng.int(4, 18);
      for (let w = 0; w < words; w++) {
        let word = vocab.pick(rng);
        if (w === 0) { word = Buffer.from(word); word[0] = (word[0] ?? 0x61) - 32; }
        if (b.col > 0 && b.col + word.length + 1 > 76) b.str('\n');
        else if (b.col > 0) b.str(' ');
        b.bytes(word);
        if (w < words - 1 && rng.chance(0.08)) b.str(',');
      }
      b.str(rng.pick(['.', '.', '.', '.', '?', '!']));
    }
    b.str('\n\n');
  }
  return b.done();
}

/** Source-like text in the style of C, JavaScript or Python; no `<`, so no HTML or XML is recognised. */
function source(n: number, rng: Prng, vocab: Vocabulary, dialect: 'c' | 'js' | 'py'): Buffer {
  const b = new TextBuilder(n);
  const id = (): string => {
    const r = rng.float();
    if (r < 0.5) return vocab.text(rng);
    if (r < 0.8) return `${vocab.text(rng)}_${vocab.text(rng)}`;
    const w = vocab.text(rng);
    return `${vocab.text(rng)}${w.charAt(0).toUpperCase()}${w.slice(1)}`;
  };
  const num = (): string => (rng.chance(0.3) ? `0x${rng.int(0, 0xffff).toString(16)}` : String(rng.int(0, 5000)));
  const str = (): string => `"${Array.from({ length: rng.int(1, 6) }, () => vocab.text(rng)).join(' ')}"`;
  const expr = (): string => {
    const r = rng.float();
    if (r < 0.3) return num();
    if (r < 0.5) return str();
    if (r < 0.8) return `${id()} ${rng.pick(['+', '-', '*', '/', '%', '&', '|'])} ${rng.chance(0.5) ? id() : num()}`;
    return `${id()}(${Array.from({ length: rng.int(0, 3) }, id).join(', ')})`;
  };
  const comment = dialect === 'py' ? '#' : '//';
  const semi = dialect === 'py' ? '' : ';';
  let depth = 0;
  const ind = (): string => (dialect === 'c' ? '\t'.repeat(depth) : '    '.repeat(depth));
  if (dialect === 'c') b.str(`#include "${id()}.h"\n#include "${id()}.h"\n\n`);
  else if (dialect === 'py') b.str(`import ${id()}\nfrom ${id()} import ${id()}\n\n`);
  else b.str(`'use strict';\nconst ${id()} = require("${id()}");\n\n`);
  while (!b.full) {
    const r = rng.float();
    if (depth === 0 || r < 0.05) {
      while (depth > 0) { depth--; if (dialect !== 'py') b.str(`${ind()}}\n`); }
      b.str('\n');
      if (rng.chance(0.5)) b.str(`${comment} ${Array.from({ length: rng.int(3, 12) }, () => vocab.text(rng)).join(' ')}\n`);
      const params = Array.from({ length: rng.int(0, 4) }, id).join(', ');
      if (dialect === 'c') b.str(`static int ${id()}(${params.split(', ').filter(Boolean).map((p) => `int ${p}`).join(', ')})\n{\n`);
      else if (dialect === 'js') b.str(`function ${id()}(${params}) {\n`);
      else b.str(`def ${id()}(${params}):\n`);
      depth = 1;
    } else if (r < 0.15 && depth < 5) {
      const cond = `${id()} ${rng.pick(['>', '==', '!=', '>='])} ${num()}`;
      b.str(dialect === 'py' ? `${ind()}if ${cond}:\n` : `${ind()}if (${cond}) {\n`);
      depth++;
    } else if (r < 0.25 && depth > 1) {
      depth--;
      if (dialect !== 'py') b.str(`${ind()}}\n`);
    } else if (r < 0.35) {
      b.str(`${ind()}${comment} ${Array.from({ length: rng.int(2, 10) }, () => vocab.text(rng)).join(' ')}\n`);
    } else if (r < 0.45) {
      b.str(`${ind()}return ${expr()}${semi}\n`);
    } else if (r < 0.75) {
      const decl = dialect === 'c' ? 'int ' : dialect === 'js' ? rng.pick(['const ', 'let ']) : '';
      b.str(`${ind()}${decl}${id()} = ${expr()}${semi}\n`);
    } else {
      b.str(`${ind()}${id()}(${Array.from({ length: rng.int(0, 4) }, expr).join(', ')})${semi}\n`);
    }
  }
  return b.done();
}

const NON_ASCII = [0xe9, 0xfc, 0xdf, 0xe7, 0x436, 0x3b1, 0x4e2d, 0x6587];

/** UTF-16LE prose with a byte-order mark and a sprinkling of non-ASCII characters. */
function utf16(n: number, rng: Prng, vocab: Vocabulary): Buffer {
  const units = Math.max(1, (n - 2) >> 1);
  const ascii = prose(units, rng, vocab);
  const out = Buffer.alloc(2 + units * 2);
  out[0] = 0xff;
  out[1] = 0xfe;
  for (let i = 0; i < units; i++) {
    const c = ascii[i] ?? 0x20;
    const u = c >= 0x61 && c <= 0x7a && rng.chance(0.004) ? rng.pick(NON_ASCII) : c;
    out.writeUInt16LE(u, 2 + 2 * i);
  }
  return out;
}

/** A PE32/PE32+ image of about `n` bytes with four sections; the entry point lies in `.text`. */
function pe(n: number, rng: Prng): { bytes: Buffer; entryPoint: number } {
  const room = Math.max(n - 0x400, 0x1000);
  const align = (v: number): number => Math.max(0x200, Math.ceil(v / 0x200) * 0x200);
  const text = align(room * rng.int(45, 65) / 100);
  const rdata = align(room * rng.int(10, 20) / 100);
  const data = align(room * rng.int(5, 15) / 100);
  const rsrc = align(Math.max(0x200, room - text - rdata - data));
  const sections: PeSectionSpec[] = [
    { name: '.text', rawSize: text, characteristics: 0x60000020 },
    { name: '.rdata', rawSize: rdata, characteristics: 0x40000040 },
    { name: '.data', rawSize: data, virtualSize: data + rng.int(0, 0x4000), characteristics: 0xc0000040 },
    { name: '.rsrc', rawSize: rsrc, characteristics: 0x40000040 },
  ];
  for (;;) {
    const built = buildPe({
      seed: rng.next(),
      pe32plus: rng.chance(0.4),
      sections,
      entry: { section: 0, offset: rng.int(0, Math.max(0, text - 0x400)) },
      overlay: rng.chance(0.15) ? rng.int(1, 0x2000) : 0,
    });
    if (built.entryPoint !== undefined) return { bytes: Buffer.from(built.bytes.buffer, built.bytes.byteOffset, built.bytes.byteLength), entryPoint: built.entryPoint };
  }
}

// ───────────────────────────── plan ─────────────────────────────

type BodyPlan = 't0-binary' | 't1' | 't7-text' | 't0-text';

interface FileSpec {
  kind: FileKind;
  size: number;
  plant?: { t: 'body'; plan: BodyPlan } | { t: 'ldb'; target: 0 | 1 } | { t: 'hash'; form: 'md5' | 'sha256' | 'md5-any' };
}

function logUniform(rng: Prng, lo: number, hi: number): number {
  return Math.round(Math.exp(Math.log(lo) + rng.float() * (Math.log(hi) - Math.log(lo))));
}

function planFiles(rng: Prng, total: number): FileSpec[] {
  const specs: FileSpec[] = [];
  const classes: { share: number; draw: () => number; kinds: [FileKind, number][] }[] = [
    { share: 0.25, draw: () => rng.int(16 * MIB, 64 * MIB), kinds: [['random', 35], ['compressible', 30], ['pe', 20], ['text', 15]] },
    { share: 0.45, draw: () => logUniform(rng, 64 * KIB, 4 * MIB), kinds: [['random', 22], ['compressible', 18], ['text', 14], ['source', 14], ['utf16', 7], ['pe', 25]] },
    { share: 0.3, draw: () => logUniform(rng, 200, 64 * KIB), kinds: [['random', 15], ['compressible', 15], ['text', 20], ['source', 25], ['utf16', 7], ['pe', 18]] },
  ];
  for (const c of classes) {
    let budget = Math.floor(total * c.share);
    while (budget > 0) {
      let size = Math.min(c.draw(), budget);
      if (budget - size < 200) size = budget;
      let kind = rng.weighted(c.kinds);
      if (kind === 'text' && size > 16 * MIB) size = Math.min(size, 16 * MIB); // stays under MaxScriptNormalize (20 MiB)
      if (kind === 'pe' && size < 4 * KIB) kind = 'random';
      specs.push({ kind, size });
      budget -= size;
    }
  }
  return rng.shuffle(specs);
}

function assignPlants(rng: Prng, specs: FileSpec[], requested: number): void {
  const f = requested / (1024 * MIB);
  const want = { bodies: Math.max(24, Math.round(300 * f)), hashes: Math.max(8, Math.round(40 * f)), ldb: Math.max(8, Math.round(30 * f)) };
  const free = (pred: (s: FileSpec) => boolean): FileSpec[] => rng.shuffle(specs.filter((s) => !s.plant && pred(s)));
  const binary = (s: FileSpec): boolean => s.kind === 'random' || s.kind === 'compressible' || s.kind === 'pe';
  const textual = (s: FileSpec): boolean => s.kind === 'text' || s.kind === 'source' || s.kind === 'utf16';
  // Body plants: 45% target-0 binary, 25% target-1 in PE files, 15% target-7 text, 15% target-0 text.
  const quota: [BodyPlan, number, (s: FileSpec) => boolean][] = [
    ['t1', 0.25, (s) => s.kind === 'pe' && s.size >= 8 * KIB],
    ['t7-text', 0.15, (s) => textual(s) && s.size >= 4 * KIB],
    ['t0-text', 0.15, (s) => (s.kind === 'text' || s.kind === 'source') && s.size >= 4 * KIB],
    ['t0-binary', 0.45, (s) => binary(s) && s.size >= 4 * KIB],
  ];
  for (const [plan, share, pred] of quota) {
    for (const s of free(pred).slice(0, Math.round(want.bodies * share))) s.plant = { t: 'body', plan };
  }
  for (const s of free((s) => binary(s) && s.size >= 16 * KIB).slice(0, want.ldb)) {
    s.plant = { t: 'ldb', target: s.kind === 'pe' && rng.chance(0.5) ? 1 : 0 };
  }
  for (const s of free((s) => s.size <= 4 * MIB).slice(0, want.hashes)) {
    s.plant = { t: 'hash', form: rng.weighted<'md5' | 'sha256' | 'md5-any'>([['md5', 7], ['sha256', 2], ['md5-any', 1]]) };
  }
}

// ───────────────────────────── generation ─────────────────────────────

interface Generated {
  bytes: Buffer;
  entryPoint?: number;
  ext?: string;
}

function generateContent(spec: FileSpec, rng: Prng, vocab: Vocabulary): Generated {
  const rs = new ByteStream(rng.fork('bytes'));
  switch (spec.kind) {
    case 'random': return { bytes: rs.take(spec.size) };
    case 'compressible': return { bytes: compressible(spec.size, rng, rs) };
    case 'text': return { bytes: prose(spec.size, rng, vocab) };
    case 'source': {
      const dialect = rng.pick(['c', 'js', 'py'] as const);
      return { bytes: source(spec.size, rng, vocab, dialect), ext: dialect === 'js' ? 'es' : dialect };
    }
    case 'utf16': return { bytes: utf16(spec.size, rng, vocab) };
    case 'pe': return pe(spec.size, rng);
  }
}

function writeAt(file: Buffer, at: number, bytes: readonly number[]): void {
  for (let i = 0; i < bytes.length; i++) file[at + i] = bytes[i] ?? 0;
}

/** Writes a body signature's instance into the file; returns the plant (or undefined when it does not fit). */
function plantBody(rng: Prng, file: Buffer, g: Generated, spec: FileSpec, plan: BodyPlan, path: string, id: number): Plant | undefined {
  const style: SigStyle = plan === 't7-text' || plan === 't0-text' ? 'text' : 'binary';
  const target = plan === 't1' ? 1 : plan === 't7-text' ? 7 : 0;
  let shape = randomBodyShape(rng, style);
  // In UTF-16 text only the normalised copy can match; keep those single-part so that where the
  // normaliser's buffers fall cannot matter.
  while (spec.kind === 'utf16' && shape.parts.length > 1) shape = randomBodyShape(rng, style);
  const inst = instantiate(shape, rng, style);
  const name = sigName(rng, platformFor(target, style), 8_000_000 + id);
  const size = file.length;
  let offset = '*';
  let at: number;
  if (style === 'text') {
    const wide = spec.kind === 'utf16';
    const span = (inst.length + 2) * (wide ? 2 : 1);
    if (size - HEAD - span < 2) return undefined;
    at = rng.int(HEAD, size - span - 1);
    if (wide) at &= ~1;
    const padded = [0x20, ...inst, 0x20];
    if (wide) padded.forEach((c, i) => { file[at + 2 * i] = c; file[at + 2 * i + 1] = 0; });
    else writeAt(file, at, padded);
  } else {
    const len = inst.length;
    if (size - HEAD - len < 64) return undefined;
    const roll = rng.float();
    const anywhere = (): number => rng.int(HEAD, size - len);
    const fromEof = (): number => {
      const n = rng.int(len, Math.min(len + 512, size - HEAD));
      offset = `EOF-${n}`;
      return size - n;
    };
    if (plan === 't1') {
      // EP+n (50%), EP+n,m (10%), EOF-n (20%), anywhere (20%).
      if (g.entryPoint !== undefined && roll < 0.6 && g.entryPoint + 600 + len <= size) {
        const n = rng.int(0, 512);
        if (roll < 0.5) { offset = `EP+${n}`; at = g.entryPoint + n; }
        else { const m = rng.int(1, 64); at = g.entryPoint + n + rng.int(0, m); offset = `EP+${n},${m}`; }
      } else if (roll < 0.8) at = fromEof();
      else at = anywhere();
    } else {
      // EOF-n (25%), absolute N or N,M (20%), anywhere (55%).
      if (roll < 0.25) at = fromEof();
      else if (roll < 0.45) {
        at = anywhere();
        if (rng.chance(0.5)) offset = String(at);
        else { const m = rng.int(1, 4096); const base = Math.max(0, at - rng.int(0, m)); offset = `${base},${m}`; }
      } else at = anywhere();
    }
    writeAt(file, at, inst);
  }
  const parts = shape.parts.length;
  return {
    db: 'ndb', file: path, name, line: ndbLine(rng, name, target, offset, shape),
    what: `ndb target ${target} ${style} offset ${offset} ${parts} part${parts > 1 ? 's' : ''}, ${shapeMinLength(shape)}+ bytes`,
  };
}

function plantLdb(rng: Prng, file: Buffer, target: 0 | 1, path: string, id: number): Plant | undefined {
  const name = sigName(rng, target === 1 ? 'Win' : 'Multios', 8_500_000 + id);
  const spec = randomLdb(rng, name, target, true);
  if (rng.chance(0.3)) spec.fileSize = [Math.max(1, file.length - rng.int(0, 100_000)), file.length + rng.int(0, 100_000)];
  const copies = ldbPlacement(rng, spec.groups, spec.subsigs.length);
  const pieces: number[][] = [];
  copies.forEach((c, i) => { for (let k = 0; k < c; k++) pieces.push(spec.subsigs[i] ?? []); });
  // One piece per slot, so that copies never overlap.
  const slot = Math.floor((file.length - HEAD) / pieces.length);
  if (slot < 40) return undefined;
  rng.shuffle(pieces).forEach((p, k) => writeAt(file, HEAD + k * slot + rng.int(0, slot - p.length), p));
  return { db: 'ldb', file: path, name, line: ldbLine(spec), what: `ldb target ${target} ${spec.subsigs.length} subsigs, ${pieces.length} pieces placed` };
}

function plantHash(rng: Prng, file: Buffer, form: 'md5' | 'sha256' | 'md5-any', path: string, id: number): Plant {
  const name = sigName(rng, rng.pick(['Win', 'Unix', 'Doc', 'Txt']), 9_000_000 + id);
  if (form === 'sha256') {
    return { db: 'hsb', file: path, name, line: `${createHash('sha256').update(file).digest('hex')}:${file.length}:${name}`, what: 'hsb SHA-256' };
  }
  const md5 = createHash('md5').update(file).digest('hex');
  return form === 'md5-any'
    ? { db: 'hdb', file: path, name, line: `${md5}:*:${name}:73`, what: 'hdb MD5, any size' }
    : { db: 'hdb', file: path, name, line: `${md5}:${file.length}:${name}`, what: 'hdb MD5' };
}

/** The corpus for (seed, bytes) under `outDir`, generated unless a complete one is already there. */
export function ensureCorpus(outDir: string, seed: number, requestedBytes: number, log: (s: string) => void): CorpusManifest & { dir: string; reused: boolean } {
  const key = `s${seed}-z${requestedBytes}`;
  const dir = join(outDir, `corpus-${key}`);
  const manifestPath = join(dir, 'manifest.json');
  if (existsSync(manifestPath)) {
    try {
      const m = JSON.parse(readFileSync(manifestPath, 'utf8')) as CorpusManifest;
      if (m.version === CORPUS_VERSION && m.seed === seed && m.requestedBytes === requestedBytes) return { ...m, dir, reused: true };
    } catch { /* regenerate */ }
  }
  log(`  generating ${formatBytes(requestedBytes)} corpus (seed ${seed}) in ${dir} …`);
  const t0 = Date.now();
  rmSync(dir, { recursive: true, force: true });
  const filesDir = join(dir, 'files');
  mkdirSync(filesDir, { recursive: true });
  const root = new Prng(seed).fork('corpus');
  const planRng = root.fork('plan');
  const specs = planFiles(planRng, requestedBytes);
  assignPlants(planRng, specs, requestedBytes);
  const vocab = new Vocabulary(root.fork('vocabulary'), 4000);
  const files: CorpusFile[] = [];
  const plants: Plant[] = [];
  let total = 0;
  let lastReport = Date.now();
  const ids = { body: 0, ldb: 0, hash: 0 };
  specs.forEach((spec, i) => {
    const rng = root.fork(`file-${i}`);
    const g = generateContent(spec, rng, vocab);
    const bytes = g.bytes;
    const ext = g.ext ?? rng.pick(EXT[spec.kind]);
    const rel = `d${String(Math.floor(i / 256)).padStart(3, '0')}/${spec.kind}-${String(i).padStart(6, '0')}.${ext}`;
    const pr = rng.fork('plant');
    let plant: Plant | undefined;
    if (spec.plant?.t === 'body') plant = plantBody(pr, bytes, g, spec, spec.plant.plan, rel, ids.body++);
    else if (spec.plant?.t === 'ldb') plant = plantLdb(pr, bytes, spec.plant.target, rel, ids.ldb++);
    else if (spec.plant?.t === 'hash') plant = plantHash(pr, bytes, spec.plant.form, rel, ids.hash++);
    if (plant) plants.push(plant);
    const abs = join(filesDir, rel);
    mkdirSync(dirname(abs), { recursive: true });
    writeFileSync(abs, bytes);
    files.push({ path: rel, kind: spec.kind, size: bytes.length });
    total += bytes.length;
    if (Date.now() - lastReport > 5000) {
      lastReport = Date.now();
      log(`    ${formatBytes(total)} written, ${files.length} files`);
    }
  });
  const manifest: CorpusManifest = { version: CORPUS_VERSION, seed, requestedBytes, key, totalBytes: total, files, plants };
  writeFileSync(`${manifestPath}.tmp`, JSON.stringify(manifest));
  renameSync(`${manifestPath}.tmp`, manifestPath);
  log(`  generated ${files.length} files, ${formatBytes(total)}, ${plants.length} planted hits in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return { ...manifest, dir, reused: false };
}

/** Where the files are (the directory both scanners are pointed at). */
export function corpusFilesDir(corpusDir: string): string {
  return join(corpusDir, 'files');
}
