/**
 * Seeded generator of ClamAV signature sets for the benchmark, in every format vigil loads:
 * `.hdb` (MD5, a few `*`-size with FLEVEL 73), `.hsb` (SHA-256), `.ndb` body signatures and
 * `.ldb` logical signatures.
 *
 * In: a seed, the wanted counts, and the corpus manifest (which carries the planted signatures:
 * the body and logical signatures whose bytes were written into corpus files, and the hashes of
 * the files chosen as hash hits). Out: a directory of database files, reused when it already
 * exists for the same inputs, and the expected detection of every planted file.
 *
 * Why built this way:
 * - Shapes follow real databases: mostly plain hex of 8-40 bytes, then `??`, nibbles, `{n}`,
 *   alternatives (single-byte, fixed-length, generic, negated), `{n-m}` jumps and `*`; offsets
 *   `*`, absolute (with and without a shift), `EOF-n` and `EP+n`; targets 0, 1 and 7. Logical
 *   signatures are mostly `&`/`|` of literals, a fifth with match counts, and are mostly
 *   type-specific (target 1 or 7): ClamAV evaluates every generic logical signature for every
 *   file, so an unrealistic share of target 0 would measure that per-file cost and little else.
 * - Nothing matches the corpus by accident: every part carries at least 6 random static bytes and
 *   every signature at least 8 (text signatures at least 8 and 12 characters from a 37-letter
 *   alphabet). With 50,000 signatures over 1 GiB that leaves a chance of an accidental hit around
 *   one in a hundred thousand, so every detection is a planted one and the two scanners' lists
 *   can be compared line by line.
 * - The same shape model produces both the signature text and a concrete byte string matching
 *   it (`instantiate`), so the corpus generator can plant hits for any shape without a matcher.
 * - Filler signatures come from streams forked by label, so changing one count does not change
 *   the others' content.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync, createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import { Prng } from '../test/helpers/prng.js';
import type { CorpusManifest } from './corpus.js';
import { ByteStream, hex } from './util.js';

// ───────────────────────────── body signature shapes ─────────────────────────────

/** One element of a part. `skip` is `{n}` with n < 128, which ClamAV rewrites to n × `??`. */
export type SigNode =
  | { t: 'lit'; b: number[] }
  | { t: 'any'; n: number }
  | { t: 'nib'; high: boolean; v: number }
  | { t: 'alt'; opts: number[][]; neg: boolean }
  | { t: 'skip'; n: number };

/** What separates two parts: `*`, or `{min-max}` (`{-max}` when min is 0, `{min-}` when max is null). */
export type SigGap = { t: 'star' } | { t: 'range'; min: number; max: number | null };

export interface BodyShape {
  parts: SigNode[][];
  gaps: SigGap[];
}

/** Binary signatures use any byte; text signatures use bytes that survive ClamAV's text normalisation unchanged. */
export type SigStyle = 'binary' | 'text';

/** Lower-case letters, digits and `_`: unchanged by normalisation, never whitespace. */
const TEXT_ALPHABET = Array.from('abcdefghijklmnopqrstuvwxyz0123456789_', (c) => c.charCodeAt(0));

function randByte(rng: Prng, style: SigStyle): number {
  return style === 'text' ? rng.pick(TEXT_ALPHABET) : rng.int(0, 255);
}

function randBytes(rng: Prng, n: number, style: SigStyle): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(randByte(rng, style));
  return out;
}

/** A single-part or multi-part shape with enough static content never to match random data. */
export function randomBodyShape(rng: Prng, style: SigStyle): BodyShape {
  const minLead = style === 'text' ? 12 : 8;
  const lit = (lo: number, hi: number): SigNode => ({ t: 'lit', b: randBytes(rng, rng.int(lo, hi), style) });
  const kind = rng.weighted<'plain' | 'wild' | 'alt' | 'jump' | 'star'>([['plain', 55], ['wild', 15], ['alt', 10], ['jump', 15], ['star', 5]]);
  if (kind === 'plain') return { parts: [[lit(Math.max(minLead, 8), 40)]], gaps: [] };
  if (kind === 'wild') {
    const part: SigNode[] = [lit(minLead, 16)];
    for (let k = rng.int(1, 3); k > 0; k--) {
      const w = rng.weighted<'any' | 'nib' | 'skip'>(style === 'text' ? [['any', 3], ['skip', 1]] : [['any', 3], ['nib', 2], ['skip', 1]]);
      if (w === 'any') part.push({ t: 'any', n: rng.int(1, 4) });
      else if (w === 'nib') part.push({ t: 'nib', high: rng.chance(0.5), v: rng.int(0, 15) });
      else part.push({ t: 'skip', n: rng.int(5, 60) });
      part.push(lit(2, 10));
    }
    return { parts: [part], gaps: [] };
  }
  if (kind === 'alt') {
    const form = rng.weighted<'single' | 'fixed' | 'generic'>([['single', 4], ['fixed', 3], ['generic', 2]]);
    const count = rng.int(2, form === 'single' ? 5 : 3);
    const opts: number[][] = [];
    const len = rng.int(2, 4);
    while (opts.length < count) {
      const o = randBytes(rng, form === 'single' ? 1 : form === 'fixed' ? len : rng.int(1, 5), style);
      if (!opts.some((x) => x.length === o.length && x.every((v, i) => v === o[i]))) opts.push(o);
    }
    if (form === 'generic' && opts.every((o) => o.length === opts[0]?.length)) opts[0] = [...(opts[0] ?? []), randByte(rng, style)];
    const neg = form !== 'generic' && rng.chance(0.2);
    return { parts: [[lit(minLead, 14), { t: 'alt', opts, neg }, lit(2, 10)]], gaps: [] };
  }
  // Multi-part: each part carries ≥ 6 static bytes (8 for text).
  const nparts = kind === 'star' ? 2 : rng.int(2, 3);
  const parts: SigNode[][] = [];
  const gaps: SigGap[] = [];
  const partMin = style === 'text' ? 8 : 6;
  for (let i = 0; i < nparts; i++) {
    const part: SigNode[] = [lit(partMin, 20)];
    if (rng.chance(0.2)) part.push({ t: 'any', n: rng.int(1, 2) }, lit(2, 6));
    parts.push(part);
    if (i > 0) {
      if (kind === 'star') gaps.push({ t: 'star' });
      else {
        const form = rng.weighted<'mm' | 'upto' | 'atleast'>([['mm', 6], ['upto', 3], ['atleast', 1]]);
        const min = rng.int(0, 48);
        if (form === 'mm') gaps.push({ t: 'range', min, max: min + rng.int(1, 256) });
        else if (form === 'upto') gaps.push({ t: 'range', min: 0, max: rng.int(4, 128) });
        else gaps.push({ t: 'range', min: rng.int(1, 64), max: null });
      }
    }
  }
  return { parts, gaps };
}

const h2 = (v: number): string => v.toString(16).padStart(2, '0');

/** The hex field of an `.ndb` line. */
export function shapeToHex(shape: BodyShape): string {
  const node = (n: SigNode): string => {
    switch (n.t) {
      case 'lit': return n.b.map(h2).join('');
      case 'any': return '??'.repeat(n.n);
      case 'nib': return n.high ? `${n.v.toString(16)}?` : `?${n.v.toString(16)}`;
      case 'alt': return `${n.neg ? '!' : ''}(${n.opts.map((o) => o.map(h2).join('')).join('|')})`;
      case 'skip': return `{${n.n}}`;
    }
  };
  let out = '';
  shape.parts.forEach((part, i) => {
    if (i > 0) {
      const g = shape.gaps[i - 1];
      if (!g || g.t === 'star') out += '*';
      else if (g.max === null) out += `{${g.min}-}`;
      else if (g.min === 0) out += `{-${g.max}}`;
      else out += `{${g.min}-${g.max}}`;
    }
    out += part.map(node).join('');
  });
  return out;
}

/** A concrete byte string that the shape matches, starting at its first byte. */
export function instantiate(shape: BodyShape, rng: Prng, style: SigStyle): number[] {
  const out: number[] = [];
  const node = (n: SigNode): void => {
    switch (n.t) {
      case 'lit': out.push(...n.b); break;
      case 'any': out.push(...randBytes(rng, n.n, style)); break;
      case 'skip': out.push(...randBytes(rng, n.n, style)); break;
      case 'nib': out.push(n.high ? (n.v << 4) | rng.int(0, 15) : (rng.int(0, 15) << 4) | n.v); break;
      case 'alt': {
        if (!n.neg) { out.push(...rng.pick(n.opts)); break; }
        const len = n.opts[0]?.length ?? 1;
        for (;;) {
          const c = randBytes(rng, len, style);
          if (!n.opts.some((o) => o.every((v, i) => v === c[i]))) { out.push(...c); break; }
        }
        break;
      }
    }
  };
  shape.parts.forEach((part, i) => {
    if (i > 0) {
      const g = shape.gaps[i - 1];
      const len = !g || g.t === 'star' ? rng.int(0, 48) : rng.int(g.min, g.max === null ? g.min + 48 : Math.min(g.max, g.min + 64));
      out.push(...randBytes(rng, len, style));
    }
    part.forEach(node);
  });
  return out;
}

// ───────────────────────────── names ─────────────────────────────

const FAMILIES = ['Agent', 'Zbot', 'Emotet', 'Qakbot', 'Ramnit', 'Sality', 'Virut', 'Nanocore', 'Remcos', 'AsyncRAT', 'Lokibot', 'Formbook', 'Dridex', 'Trickbot', 'Mirai', 'Gafgyt', 'Tsunami', 'Xmrig', 'Coinminer', 'Downloader', 'Dropper', 'Injector', 'Kryptik', 'Phish', 'Webshell', 'Obfus', 'Exploit', 'Redline', 'Vidar', 'Glupteba'];
const CATEGORIES = ['Trojan', 'Malware', 'Downloader', 'Dropper', 'Exploit', 'Packed', 'Ransomware', 'Worm', 'Backdoor', 'Coinminer'];

/** A name in ClamAV's official shape, `{platform}.{category}.{family}-{id}-{revision}`. */
export function sigName(rng: Prng, platform: string, id: number): string {
  return `${platform}.${rng.pick(CATEGORIES)}.${rng.pick(FAMILIES)}-${id}-${rng.int(0, 2)}`;
}

export function platformFor(target: number, style: SigStyle): string {
  if (target === 1) return 'Win';
  if (target === 7) return 'Txt';
  return style === 'text' ? 'Js' : 'Multios';
}

/** An `.ndb` line. A fifth of the lines carry a minimum FLEVEL, as many official lines do. */
export function ndbLine(rng: Prng, name: string, target: number, offset: string, shape: BodyShape): string {
  return `${name}:${target}:${offset}:${shapeToHex(shape)}${rng.chance(0.2) ? `:${rng.pick([51, 73, 90, 150])}` : ''}`;
}

// ───────────────────────────── logical signatures ─────────────────────────────

/** One `&`-joined group of a logical expression. */
export type LdbGroup =
  | { t: 'one'; i: number; more?: number }
  | { t: 'or'; members: number[]; more?: number; distinct?: number }
  | { t: 'none'; i: number };

/** `0&1`, `(0|1)&2`, `(0|1)>1&2`, `((0|1|2)>2,2)&3`, `0&1=0`, …: every subsignature is used once. */
export function randomLdbExpression(rng: Prng, n: number, allowNegation: boolean): LdbGroup[] {
  const order = rng.shuffle(Array.from({ length: n }, (_, i) => i));
  const groups: LdbGroup[] = [];
  let k = 0;
  while (k < n) {
    const left = n - k;
    const size = left === 1 ? 1 : rng.weighted<number>([[1, 5], [2, 3], [3, left >= 3 ? 2 : 0]]);
    const members = order.slice(k, k + size).sort((a, b) => a - b);
    k += size;
    const first = members[0] ?? 0;
    if (size === 1) {
      if (allowNegation && groups.length > 0 && rng.chance(0.1)) groups.push({ t: 'none', i: first });
      else groups.push(rng.chance(0.05) ? { t: 'one', i: first, more: 1 } : { t: 'one', i: first });
    } else {
      const roll = rng.float();
      if (roll < 0.8) groups.push({ t: 'or', members });
      else if (roll < 0.93 || size < 3) groups.push({ t: 'or', members, more: rng.int(1, 2) });
      else groups.push({ t: 'or', members, more: 2, distinct: 2 });
    }
  }
  // A negated group alone would make a signature that matches clean files.
  const first = groups[0];
  if (first && !groups.some((g) => g.t !== 'none') && first.t === 'none') groups[0] = { t: 'one', i: first.i };
  return groups;
}

export function ldbExpressionText(groups: readonly LdbGroup[]): string {
  const multi = groups.length > 1;
  return groups.map((g) => {
    if (g.t === 'none') return `${g.i}=0`;
    // A counted group is parenthesised whenever something else follows or precedes it: the
    // grammar has no precedence, and `(0>1)&2` is the form ClamAV reads unambiguously.
    if (g.t === 'one') return g.more ? (multi ? `(${g.i}>${g.more})` : `${g.i}>${g.more}`) : `${g.i}`;
    const inner = `(${g.members.join('|')})`;
    if (g.more === undefined) return inner;
    const counted = `${inner}>${g.more}${g.distinct ? `,${g.distinct}` : ''}`;
    return multi ? `(${counted})` : counted;
  }).join('&');
}

/** How many copies of each subsignature satisfy the expression (negated ones get none). */
export function ldbPlacement(rng: Prng, groups: readonly LdbGroup[], n: number): number[] {
  const copies = new Array<number>(n).fill(0);
  for (const g of groups) {
    if (g.t === 'none') continue;
    if (g.t === 'one') { copies[g.i] = (g.more ?? 0) + 1; continue; }
    const need = (g.more ?? 0) + 1;
    const distinct = g.distinct ?? 1;
    const chosen = rng.sample(g.members, distinct);
    chosen.forEach((m, j) => { copies[m] = j === 0 ? need - (distinct - 1) : 1; });
  }
  return copies;
}

export interface LdbSpec {
  name: string;
  target: number;
  /** FileSize range, when the signature has one. */
  fileSize?: [number, number];
  groups: LdbGroup[];
  subsigs: number[][];
}

export function ldbLine(spec: LdbSpec): string {
  const tdb = `Engine:51-255,Target:${spec.target}${spec.fileSize ? `,FileSize:${spec.fileSize[0]}-${spec.fileSize[1]}` : ''}`;
  return [spec.name, tdb, ldbExpressionText(spec.groups), ...spec.subsigs.map((s) => s.map(h2).join(''))].join(';');
}

/**
 * A logical signature of 2-6 literal subsignatures: 8-32 random bytes, or for target 7 (text)
 * 12-32 characters that survive normalisation.
 */
export function randomLdb(rng: Prng, name: string, target: number, allowNegation: boolean): LdbSpec {
  const n = rng.int(2, 6);
  const style: SigStyle = target === 7 ? 'text' : 'binary';
  const subsigs = Array.from({ length: n }, () => randBytes(rng, rng.int(style === 'text' ? 12 : 8, 32), style));
  return { name, target, groups: randomLdbExpression(rng, n, allowNegation), subsigs };
}

// ───────────────────────────── the signature set ─────────────────────────────

export interface SigCounts {
  hashes: number;
  bodies: number;
  logicals: number;
}

export interface SigSet {
  dir: string;
  /** Lines per database file. */
  files: Record<string, number>;
  /** Signatures of each kind actually written (planted included). */
  counts: SigCounts;
  /** Planted signatures included, per kind. */
  planted: { hashes: number; bodies: number; logicals: number };
  /** Corpus-relative path → the detection name clamscan should print for it (with `.UNOFFICIAL`). */
  expected: Record<string, string>;
  reused: boolean;
}

const SIGS_VERSION = 2;

/** Writes the signature set for (seed, counts, corpus) under `outDir`, or reuses the one already there. */
export async function ensureSignatures(outDir: string, seed: number, counts: SigCounts, corpus: CorpusManifest, log: (s: string) => void): Promise<SigSet> {
  const dir = join(outDir, `sigs-s${seed}-c${corpus.key}-h${counts.hashes}-b${counts.bodies}-l${counts.logicals}`);
  const infoPath = join(dir, 'sigset.json');
  if (existsSync(infoPath)) {
    try {
      const info = JSON.parse(readFileSync(infoPath, 'utf8')) as SigSet & { version: number };
      if (info.version === SIGS_VERSION) return { ...info, dir, reused: true };
    } catch { /* regenerate */ }
  }
  rmSync(dir, { recursive: true, force: true });
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const t0 = Date.now();
  const root = new Prng(seed).fork('sigs');
  const expected: Record<string, string> = {};

  // Planted signatures first decide which files are expected to be detected.
  const bodyPlants = corpus.plants.filter((p) => p.db === 'ndb').slice(0, counts.bodies);
  const ldbPlants = corpus.plants.filter((p) => p.db === 'ldb').slice(0, counts.logicals);
  const hashPlants = corpus.plants.filter((p) => p.db === 'hdb' || p.db === 'hsb').slice(0, counts.hashes);
  for (const p of [...bodyPlants, ...ldbPlants, ...hashPlants]) expected[p.file] = `${p.name}.UNOFFICIAL`;

  const files: Record<string, number> = {};

  // ── hashes: .hdb (MD5, ~0.05% with `*` size) and .hsb (SHA-256), 90/10 ──
  {
    const rng = root.fork('hashes');
    const bytes = new ByteStream(rng.fork('hash-bytes'));
    const filler = Math.max(0, counts.hashes - hashPlants.length);
    const hdb = createWriteStream(join(tmp, 'bench.hdb'));
    const hsb = createWriteStream(join(tmp, 'bench.hsb'));
    // Planted lines go at random places among the filler, as a real database would have them.
    const plantAt = new Map<number, typeof hashPlants>();
    for (const p of hashPlants) {
      const at = rng.int(0, filler);
      plantAt.set(at, [...(plantAt.get(at) ?? []), p]);
    }
    let hdbLines = 0;
    let hsbLines = 0;
    const chunks: Record<'hdb' | 'hsb', string[]> = { hdb: [], hsb: [] };
    const flush = async (force: boolean): Promise<void> => {
      for (const [k, stream] of [['hdb', hdb], ['hsb', hsb]] as const) {
        if (chunks[k].length >= 8192 || (force && chunks[k].length)) {
          if (!stream.write(chunks[k].join(''))) await once(stream, 'drain');
          chunks[k] = [];
        }
      }
    };
    for (let i = 0; i <= filler; i++) {
      for (const p of plantAt.get(i) ?? []) {
        if (p.db === 'hsb') { chunks.hsb.push(`${p.line}\n`); hsbLines++; }
        else { chunks.hdb.push(`${p.line}\n`); hdbLines++; }
      }
      if (i === filler) break;
      const sha = rng.chance(0.1);
      const h = hex(bytes.take(sha ? 32 : 16));
      const anySize = rng.chance(0.0005);
      const size = anySize ? '*' : String(Math.round(Math.exp(rng.float() * Math.log(20_000_000 / 300)) * 300));
      const name = sigName(rng, rng.pick(['Win', 'Win', 'Win', 'Unix', 'Doc', 'Pdf', 'Html', 'Andr']), 1_000_000 + i);
      chunks[sha ? 'hsb' : 'hdb'].push(`${h}:${size}:${name}${anySize ? ':73' : ''}\n`);
      if (sha) hsbLines++; else hdbLines++;
      await flush(false);
    }
    await flush(true);
    hdb.end();
    hsb.end();
    await Promise.all([once(hdb, 'close'), once(hsb, 'close')]);
    files['bench.hdb'] = hdbLines;
    files['bench.hsb'] = hsbLines;
    // ClamAV refuses an empty database file; a comment line keeps a zero-count file loadable.
    if (hsbLines === 0) writeFileSync(join(tmp, 'bench.hsb'), '# no SHA-256 signatures in this set\n');
    if (hdbLines === 0) writeFileSync(join(tmp, 'bench.hdb'), '# no MD5 signatures in this set\n');
  }

  // ── bodies: .ndb ──
  {
    const rng = root.fork('bodies');
    const lines: string[] = [];
    const filler = Math.max(0, counts.bodies - bodyPlants.length);
    for (let i = 0; i < filler; i++) {
      const pick = rng.weighted<[number, SigStyle]>([[[0, 'binary'], 55], [[0, 'text'], 10], [[1, 'binary'], 25], [[7, 'text'], 10]]);
      const [target, style] = pick;
      const shape = randomBodyShape(rng, style);
      let offset = '*';
      const roll = rng.float();
      if (target === 0 && style === 'binary') {
        if (roll < 0.1) offset = rng.chance(0.5) ? String(rng.int(0, 4096)) : `${rng.int(0, 4096)},${rng.int(1, 8192)}`;
        else if (roll < 0.2) offset = `EOF-${rng.int(shapeMinLength(shape), 4096)}`;
      } else if (target === 1) {
        if (roll < 0.45) offset = `EP+${rng.int(0, 512)}`;
        else if (roll < 0.55) offset = `EP+${rng.int(0, 64)},${rng.int(1, 256)}`;
        else if (roll < 0.65) offset = `EOF-${rng.int(shapeMinLength(shape), 8192)}`;
        else if (roll < 0.7) offset = String(rng.int(0x400, 0x4000));
      }
      lines.push(ndbLine(rng, sigName(rng, platformFor(target, style), 2_000_000 + i), target, offset, shape));
    }
    for (const p of bodyPlants) lines.splice(rng.int(0, lines.length), 0, p.line);
    writeFileSync(join(tmp, 'bench.ndb'), lines.length ? `${lines.join('\n')}\n` : '# no body signatures in this set\n');
    files['bench.ndb'] = lines.length;
  }

  // ── logical: .ldb ──
  {
    const rng = root.fork('logicals');
    const lines: string[] = [];
    const filler = Math.max(0, counts.logicals - ldbPlants.length);
    for (let i = 0; i < filler; i++) {
      // Most real logical signatures name a file type; generic (target 0) ones are the minority,
      // and they are the ones every file pays for.
      const target = rng.weighted<number>([[1, 55], [0, 30], [7, 15]]);
      const spec = randomLdb(rng, sigName(rng, platformFor(target, target === 7 ? 'text' : 'binary'), 3_000_000 + i), target, true);
      if (rng.chance(0.15)) {
        const lo = rng.int(1, 100_000);
        spec.fileSize = [lo, lo + rng.int(1000, 5_000_000)];
      }
      lines.push(ldbLine(spec));
    }
    for (const p of ldbPlants) lines.splice(rng.int(0, lines.length), 0, p.line);
    writeFileSync(join(tmp, 'bench.ldb'), lines.length ? `${lines.join('\n')}\n` : '# no logical signatures in this set\n');
    files['bench.ldb'] = lines.length;
  }

  const set: SigSet = {
    dir,
    files,
    counts: { hashes: (files['bench.hdb'] ?? 0) + (files['bench.hsb'] ?? 0), bodies: files['bench.ndb'] ?? 0, logicals: files['bench.ldb'] ?? 0 },
    planted: { hashes: hashPlants.length, bodies: bodyPlants.length, logicals: ldbPlants.length },
    expected,
    reused: false,
  };
  writeFileSync(join(tmp, 'sigset.json'), JSON.stringify({ version: SIGS_VERSION, ...set }));
  renameSync(tmp, dir);
  log(`  generated signatures in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return set;
}

/** The fewest bytes an instance of the shape can span (gaps at their minimum). */
export function shapeMinLength(shape: BodyShape): number {
  let n = 0;
  for (const part of shape.parts) {
    for (const node of part) {
      if (node.t === 'lit') n += node.b.length;
      else if (node.t === 'any' || node.t === 'skip') n += node.n;
      else if (node.t === 'nib') n += 1;
      else n += Math.min(...node.opts.map((o) => o.length));
    }
  }
  for (const g of shape.gaps) if (g.t === 'range') n += g.min;
  return n;
}
