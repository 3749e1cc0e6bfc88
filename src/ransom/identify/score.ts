/**
 * Identification: which known families fit the signals gathered on an affected machine.
 *
 * In: `Signals` (encrypted file names, notes, contacts, sample heads and tails) and a
 * `KnowledgeBase`. Out: candidates ranked by score, each with its evidence (what matched, how many
 * families share it, its weight) and a confidence 0..1; and the ambiguity statements (a signal
 * shared by several families — "extension `.locked`" shared by 47 — and a tie at the top).
 *
 * How: the knowledge base is compiled once per object (`compileKb`, cached): a suffix index by
 * length; templates compiled by the knowledge base's own definition (kb/patterns.ts: end-anchored,
 * whole-name with `[ORIGINAL]`) with a literal-tail prefilter; regular expressions admitted only
 * when both kb/patterns.ts and `safeRegex` accept them (bounded length, no back-references, no
 * repeated group that repeats or alternates inside, at most two unbounded repetitions; names are
 * cut to 255 characters before matching); exact and wildcard note-name tables; contact tables;
 * R1's LSH note index. Specificity is measured, not only counted: every suffix and template is
 * filled in (`exampleName`) and each pattern counts the families whose example names it matches,
 * so a regex matching any name with an e-mail in it weighs as little as a widely shared suffix;
 * a pattern that matches ordinary or randomly renamed names (PROBES) is as weak as `random:n`;
 * a note name counts every family any entry (exact or wildcard) points it to.
 * Each piece of evidence weighs `BASE[kind] × factor × sharedBy^-0.5` (one family's signal counts
 * seven times one shared by 47). Pieces of one kind for one family add with decreasing factors
 * (1, 0.3, 0.09 …; for extensions only the strongest counts). Confidence is a softmax over the
 * scores with a pseudo-candidate for "a family the knowledge base does not know", fitted on the
 * test set of testset.ts (seed 1) and measured on another seed by accuracy.test.ts. Ties break on
 * the family id, so the output is deterministic.
 * Why: no single signal is reliable (the galaxy's `.locked` belongs to 47 families, `readme.txt`
 * to 17); a scored combination that says how specific each signal is lets the user see why.
 */
import type { Candidate, Evidence, ExtensionPattern, Family, FileMarker, KnowledgeBase, Signals } from '../types.js';
import { NoteIndex, noteSignature, isSignature } from '../kb/minhash.js';
import { compileNoteName, compileTemplate, unsafeRegexReason } from '../kb/patterns.js';
import { mulberry32 } from '../../core/random.js';

/** File names are cut to this many characters before any pattern is matched. */
export const MAX_NAME = 255;
/** Regular expressions longer than this are not compiled. */
export const MAX_REGEX = 300;
/** At most this many distinct encrypted names are matched (a directory gives a sample of them). */
export const MAX_NAMES = 5000;
/** Only the first NOTE_SIM_CHARS characters of a note are compared with the known notes. */
export const NOTE_SIM_CHARS = 128 * 1024;
/** Note-text similarity below this is not evidence. */
export const MIN_NOTE_SIM = 0.2;

/** The weight of a piece of evidence of each kind when one family alone has it. */
export const BASE: Readonly<Record<Evidence['signal'], number>> = {
  extension: 3,
  'note-name': 2,
  'note-text': 6,
  email: 6,
  onion: 6,
  marker: 5,
  sample: 0.5,
};
/** Template matches are more specific than bare suffixes; random:n extensions are weak. */
const TEMPLATE_FACTOR = 1.4;
const REGEX_FACTOR = 1.2;
const RANDOM_FACTOR = 0.15;
/**
 * Evidence of one kind for one family: the k-th strongest (k = 0, 1, …) counts DECAY^k; for
 * extensions only the strongest counts (one name matched by a family's suffix and by its template
 * is one observation, not two).
 */
const DECAY: Readonly<Record<Evidence['signal'], number>> = { extension: 0, 'note-name': 0.3, 'note-text': 0.3, email: 0.3, onion: 0.3, marker: 0.3, sample: 0.3 };
/**
 * Confidence: softmax temperature, and the score of "a family not in the knowledge base". Fitted
 * (grid search, least expected calibration error of the top candidate) on the test set of
 * testset.ts built with seed 1; accuracy.test.ts measures it on another seed.
 */
export const CONF_TEMPERATURE = 0.4;
export const CONF_UNKNOWN = 1.0;

/**
 * Names a pattern is tried on to measure how broad it is: ordinary names, and ordinary names with a
 * random extension of 1..10 letters/digits (what random-extension families produce). A pattern
 * matching more than BROAD_SHARE of them (`[a-z0-9]{1,32}\.[a-z0-9]{1,32}$`, `\.[a-z]{4,6}$`) says
 * little about the family, whatever the number of families listing it.
 */
const PROBES: readonly string[] = (() => {
  const rnd = mulberry32(0x5eed);
  const bases = ['report.docx', 'IMG_0042.JPG', 'invoice 2024.pdf', 'data.xlsx', 'backup.sql', 'song.mp3', 'notes.txt', 'archive.zip', 'photo.png', 'setup.exe'];
  const an = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const out: string[] = [...bases];
  for (let i = 0; i < 400; i++) {
    const n = 1 + (i % 10);
    let ext = '';
    for (let k = 0; k < n; k++) ext += an[Math.floor(rnd() * (i % 3 === 0 ? 26 : 36))];
    out.push(`${bases[i % bases.length] as string}.${i % 7 === 0 ? ext.toUpperCase() : ext}`);
  }
  return out;
})();
export const BROAD_SHARE = 0.02;

function isBroad(re: RegExp): boolean {
  let n = 0;
  for (const p of PROBES) if (re.test(p)) n++;
  return n > PROBES.length * BROAD_SHARE;
}

/** Specificity: a signal shared by k families weighs k^-0.5 of a unique one. */
export function specificity(k: number): number {
  return k <= 1 ? 1 : 1 / Math.sqrt(k);
}

interface Pattern {
  re: RegExp;
  /** Matches ordinary or randomly renamed files too (see PROBES): weak evidence, like random:n. */
  broad: boolean;
  /** How many families' encrypted names it matches: those listing it and those it collides with. */
  sharedBy: number;
  /** Literal lower-case tail every match ends with ('' when none). */
  tail: string;
  label: string;
  families: string[];
  kind: 'template' | 'regex';
}

interface Marker {
  marker: FileMarker;
  bytes: Uint8Array;
  families: string[];
}

export interface RejectedPattern {
  family: string;
  pattern: string;
  reason: string;
}

/** A knowledge base compiled for matching. */
export interface KbIndex {
  kb: KnowledgeBase;
  byId: Map<string, Family>;
  suffix: Map<string, string[]>;
  /** Per suffix: how many families' encrypted names end so (those listing it, and collisions). */
  suffixShared: Map<string, number>;
  suffixLengths: number[];
  patterns: Pattern[];
  random: Map<number, string[]>;
  noteExact: Map<string, string[]>;
  noteWild: { re: RegExp; label: string; families: string[] }[];
  emails: Map<string, string[]>;
  onions: Map<string, string[]>;
  markers: Marker[];
  notes: NoteIndex;
  /** Patterns that were not compiled, and why. */
  rejected: RejectedPattern[];
}

const cache = new WeakMap<KnowledgeBase, KbIndex>();

function addTo(map: Map<string, string[]>, key: string, id: string): void {
  const l = map.get(key);
  if (!l) map.set(key, [id]);
  else if (l[l.length - 1] !== id && !l.includes(id)) l.push(id);
}

/** The literal tail of a template (after its last placeholder), lower case: a cheap prefilter. */
export function templateTail(template: string): string {
  let last = 0;
  for (const m of template.matchAll(/\[(ID|EMAIL|EXT|ORIGINAL|RANDOM:[1-9][0-9]?)\]/g)) last = m.index + m[0].length;
  return template.slice(last).toLowerCase();
}

/**
 * A regular expression from the knowledge base, or why it is refused: longer than MAX_REGEX,
 * back-references, a quantified group that itself holds a quantifier or an alternation (nested
 * repetition: exponential backtracking), more than two unbounded quantifiers (polynomial), or a
 * syntax error.
 */
export function safeRegex(src: string): RegExp | string {
  if (src.length > MAX_REGEX) return `longer than ${MAX_REGEX} characters`;
  if (/\\[1-9]|\\k</.test(src)) return 'back-references are not allowed';
  interface Group { quantified: boolean; alternation: boolean }
  const stack: Group[] = [{ quantified: false, alternation: false }];
  let unbounded = 0;
  let lastClosed: Group | null = null;
  let inClass = false;
  for (let i = 0; i < src.length; i++) {
    const c = src[i] as string;
    if (c === '\\') { i++; lastClosed = null; continue; }
    if (inClass) { if (c === ']') inClass = false; continue; }
    if (c === '[') { inClass = true; lastClosed = null; continue; }
    const top = stack[stack.length - 1] as Group;
    if (c === '(') { stack.push({ quantified: false, alternation: false }); lastClosed = null; continue; }
    if (c === ')') {
      if (stack.length === 1) return 'unbalanced parenthesis';
      lastClosed = stack.pop() as Group;
      const parent = stack[stack.length - 1] as Group;
      parent.quantified ||= lastClosed.quantified;
      continue;
    }
    if (c === '|') { top.alternation = true; lastClosed = null; continue; }
    let q: 'bounded' | 'unbounded' | null = null;
    if (c === '*' || c === '+') q = 'unbounded';
    else if (c === '?') q = src[i - 1] === '(' ? null : 'bounded';
    else if (c === '{') {
      const m = /^\{(\d{1,4})(,(\d{0,4}))?\}/.exec(src.slice(i));
      if (m) {
        q = m[2] !== undefined && (m[3] === undefined || m[3] === '') ? 'unbounded' : Number(m[3] ?? m[1]) > 64 ? 'unbounded' : 'bounded';
        i += m[0].length - 1;
      }
    }
    if (q) {
      if (src[i + 1] === '?' || src[i + 1] === '+') i++;
      if (q === 'unbounded') unbounded++;
      if (lastClosed && (lastClosed.quantified || lastClosed.alternation) && q === 'unbounded') return 'nested repetition (a repeated group that repeats or alternates inside)';
      top.quantified = true;
      lastClosed = null;
      continue;
    }
    lastClosed = null;
  }
  if (stack.length !== 1) return 'unbalanced parenthesis';
  if (unbounded > 2) return 'more than two unbounded repetitions';
  try {
    return new RegExp(src, 'i');
  } catch (e) {
    return `not a regular expression: ${e instanceof Error ? e.message : String(e)}`;
  }
}

function hexBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** The compiled form of a knowledge base (computed once per object). */
export function compileKb(kb: KnowledgeBase): KbIndex {
  const hit = cache.get(kb);
  if (hit) return hit;
  const byId = new Map<string, Family>();
  const suffix = new Map<string, string[]>();
  const patternByKey = new Map<string, Pattern>();
  const random = new Map<number, string[]>();
  const noteExact = new Map<string, string[]>();
  const wildByKey = new Map<string, { re: RegExp; label: string; families: string[] }>();
  const emails = new Map<string, string[]>();
  const onions = new Map<string, string[]>();
  const markerByKey = new Map<string, Marker>();
  const notes = new NoteIndex();
  const rejected: RejectedPattern[] = [];
  const families = [...kb.families].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const f of families) {
    byId.set(f.id, f);
    for (const e of f.extensions) {
      if (e.kind === 'suffix') {
        const v = e.value.toLowerCase();
        if (v.length > 0) addTo(suffix, v, f.id);
      } else if (e.kind === 'template') {
        const key = `t:${e.value.toLowerCase()}`;
        const p = patternByKey.get(key);
        if (p) { if (!p.families.includes(f.id)) p.families.push(f.id); continue; }
        try {
          const re = compileTemplate(e.value);
          patternByKey.set(key, { re, broad: isBroad(re), sharedBy: 0, tail: templateTail(e.value), label: e.value, families: [f.id], kind: 'template' });
        } catch (err) {
          rejected.push({ family: f.id, pattern: e.value, reason: err instanceof Error ? err.message : String(err) });
        }
      } else if (e.kind === 'regex') {
        const key = `r:${e.value}`;
        const p = patternByKey.get(key);
        if (p) { if (!p.families.includes(f.id)) p.families.push(f.id); continue; }
        const re = unsafeRegexReason(e.value) ?? safeRegex(e.value);
        if (typeof re === 'string') rejected.push({ family: f.id, pattern: e.value, reason: re });
        else patternByKey.set(key, { re, broad: isBroad(re), sharedBy: 0, tail: '', label: e.value, families: [f.id], kind: 'regex' });
      } else if (Number.isInteger(e.length) && e.length > 0) {
        const l = random.get(e.length);
        if (!l) random.set(e.length, [f.id]);
        else if (!l.includes(f.id)) l.push(f.id);
      }
    }
    for (const n of f.noteNames) {
      const l = n.toLowerCase();
      if (l.includes('*')) {
        const w = wildByKey.get(l);
        if (w) { if (!w.families.includes(f.id)) w.families.push(f.id); } else wildByKey.set(l, { re: compileNoteName(l), label: n, families: [f.id] });
      } else addTo(noteExact, l, f.id);
    }
    for (const e of f.emails) addTo(emails, e.toLowerCase(), f.id);
    for (const o of f.onions) addTo(onions, o.toLowerCase(), f.id);
    f.noteHashes.forEach((h, i) => { if (isSignature(h)) notes.add(`${f.id}#${i}`, h); });
    for (const m of f.markers) {
      if (!/^(?:[0-9a-f]{2})+$/i.test(m.hex)) continue;
      const key = `${m.where}:${m.offset ?? ''}:${m.hex.toLowerCase()}`;
      const k = markerByKey.get(key);
      if (k) { if (!k.families.includes(f.id)) k.families.push(f.id); } else markerByKey.set(key, { marker: m, bytes: hexBytes(m.hex), families: [f.id] });
    }
  }
  const idx: KbIndex = {
    kb, byId, suffix, suffixShared: new Map(),
    suffixLengths: [...new Set([...suffix.keys()].map((k) => k.length))].sort((a, b) => a - b),
    patterns: [...patternByKey.values()],
    random, noteExact, noteWild: [...wildByKey.values()], emails, onions,
    markers: [...markerByKey.values()], notes, rejected,
  };
  measureCollisions(idx, families);
  cache.set(kb, idx);
  return idx;
}

/** A family's name pattern filled in with fixed values: what one of its victims' files looks like. */
export function exampleName(p: ExtensionPattern): string | null {
  const original = 'document.docx';
  if (p.kind === 'suffix') return original + p.value;
  if (p.kind !== 'template') return null;
  let hasOriginal = false;
  const body = p.value.replace(/\[(ID|EMAIL|EXT|ORIGINAL|RANDOM:([1-9][0-9]?))\]/g, (_m, what: string, n?: string) => {
    if (n) return 'x7k2q9m4p1w8z3r6t5y0'.repeat(4).slice(0, Number(n));
    if (what === 'ID') return '1A2B3C4D';
    if (what === 'EMAIL') return 'victim.help@mail.com';
    if (what === 'EXT') return 'xyz';
    hasOriginal = true;
    return original;
  });
  return hasOriginal ? body : original + body;
}

/**
 * Specificity of name patterns measured on the knowledge base itself: every suffix and template is
 * filled in (`exampleName`), and every pattern that matches the example of another family counts
 * that family too. A regex that matches any name with an e-mail in it thus weighs as little as it
 * says, however few families list it.
 */
function measureCollisions(idx: KbIndex, families: readonly Family[]): void {
  const hit = new Map<string, Set<string>>();
  const note = (key: string, listed: readonly string[], id: string): void => {
    let set = hit.get(key);
    if (!set) { set = new Set(listed); hit.set(key, set); }
    set.add(id);
  };
  for (const f of families) {
    for (const e of f.extensions) {
      const name = exampleName(e);
      if (name === null) continue;
      for (const m of matchName(idx, name, { random: false })) note(m.key, m.families, f.id);
    }
  }
  for (const [value, fam] of idx.suffix) idx.suffixShared.set(value, hit.get(`s:${value}`)?.size ?? fam.length);
  idx.patterns.forEach((p, i) => { p.sharedBy = hit.get(`p:${i}`)?.size ?? p.families.length; });
}

/** Extensions common on ordinary files: a name ending so is not taken as a random extension. */
export const COMMON_EXTENSIONS = new Set(`
txt doc docx docm dot dotx xls xlsx xlsm xlsb csv ppt pptx pps ppsx odt ods odp odg rtf pdf md tex log ini cfg conf json xml yml yaml
htm html xhtml css js mjs cjs ts tsx jsx php py rb pl sh bat cmd ps1 vbs c h cpp hpp cc cs java class jar go rs swift kt sql db sqlite
mdb accdb dbf bak tmp old jpg jpeg png gif bmp tif tiff webp svg ico psd ai eps raw cr2 nef heic mp3 wav flac ogg m4a aac wma mid
mp4 avi mkv mov wmv flv webm mpg mpeg 3gp zip rar 7z tar gz tgz bz2 xz zst iso img vhd vhdx vmdk ova exe dll sys msi lnk url
eml msg pst ost vcf ics epub mobi ttf otf woff woff2 dat bin key pem crt cer p12 pfx torrent dwg dxf qbw qbb kdbx wallet
`.trim().split(/\s+/));

/** The final extension of a name (lower case, without the dot), or '' when it has none. */
export function finalExtension(name: string): string {
  const i = name.lastIndexOf('.');
  return i <= 0 || i === name.length - 1 ? '' : name.slice(i + 1).toLowerCase();
}

export interface NameMatch {
  kind: 'suffix' | 'template' | 'regex' | 'random';
  /** `s:SUFFIX`, `p:INDEX` or `r:LENGTH`. */
  key: string;
  broad?: boolean;
  /** Families whose encrypted names this pattern matches (≥ families.length). */
  sharedBy: number;
  label: string;
  families: string[];
}

/** The extension patterns a file name matches. */
export function matchName(idx: KbIndex, rawName: string, opts: { random?: boolean } = {}): NameMatch[] {
  const name = rawName.length > MAX_NAME ? rawName.slice(-MAX_NAME) : rawName;
  const lower = name.toLowerCase();
  const out: NameMatch[] = [];
  for (const len of idx.suffixLengths) {
    if (len >= lower.length) break;
    const fam = idx.suffix.get(lower.slice(-len));
    if (fam) out.push({ kind: 'suffix', key: `s:${lower.slice(-len)}`, label: lower.slice(-len), families: fam, sharedBy: Math.max(fam.length, idx.suffixShared.get(lower.slice(-len)) ?? 0) });
  }
  idx.patterns.forEach((p, i) => {
    if (p.tail && !lower.endsWith(p.tail)) return;
    p.re.lastIndex = 0;
    if (p.re.test(name)) out.push({ kind: p.kind, key: `p:${i}`, label: p.label, families: p.families, broad: p.broad, sharedBy: Math.max(p.families.length, p.sharedBy) });
  });
  if (opts.random !== false) {
    const ext = finalExtension(name);
    if (ext && /^[a-z0-9]+$/.test(ext) && !COMMON_EXTENSIONS.has(ext)) {
      const fam = idx.random.get(ext.length);
      if (fam) out.push({ kind: 'random', key: `r:${ext.length}`, label: `random:${ext.length}`, families: fam, sharedBy: fam.length });
    }
  }
  return out;
}

/** The note-name entries a file name matches. */
export function matchNoteName(idx: KbIndex, rawName: string): { label: string; families: string[]; wildcard: boolean }[] {
  const lower = rawName.slice(0, MAX_NAME).toLowerCase();
  const out: { label: string; families: string[]; wildcard: boolean }[] = [];
  const exact = idx.noteExact.get(lower);
  if (exact) out.push({ label: lower, families: exact, wildcard: false });
  for (const w of idx.noteWild) if (w.re.test(lower)) out.push({ label: w.label, families: w.families, wildcard: true });
  return out;
}

function markerAt(m: Marker, s: Signals['samples'][number]): boolean {
  const b = m.bytes;
  const eq = (buf: Uint8Array, at: number): boolean => {
    if (at < 0 || at + b.length > buf.length) return false;
    for (let i = 0; i < b.length; i++) if (buf[at + i] !== b[i]) return false;
    return true;
  };
  const find = (buf: Uint8Array): boolean => {
    for (let i = 0; i + b.length <= buf.length; i++) if (eq(buf, i)) return true;
    return false;
  };
  switch (m.marker.where) {
    case 'start': return m.marker.offset === undefined ? find(s.head) : eq(s.head, m.marker.offset);
    case 'end': return m.marker.offset === undefined ? find(s.tail) : eq(s.tail, s.tail.length - m.marker.offset - b.length);
    default: return find(s.head) || find(s.tail);
  }
}

export interface Identification {
  candidates: Candidate[];
  ambiguous: { signal: string; families: number }[];
}

interface Acc { evidence: Evidence[] }

/** Ranks the families of `kb` against `signals`. */
export function identify(signals: Signals, kb: KnowledgeBase | KbIndex, conf: { temperature?: number; unknown?: number } = {}): Identification {
  const T = conf.temperature ?? CONF_TEMPERATURE;
  const U = conf.unknown ?? CONF_UNKNOWN;
  const idx = 'byId' in kb ? kb : compileKb(kb);
  const acc = new Map<string, Acc>();
  const shared = new Map<string, { signal: string; families: number }>();
  const add = (familyIds: readonly string[], signal: Evidence['signal'], detail: string, factor = 1, sharedBy = familyIds.length, stmt?: string): void => {
    const weight = BASE[signal] * factor * specificity(sharedBy);
    for (const id of familyIds) {
      let a = acc.get(id);
      if (!a) { a = { evidence: [] }; acc.set(id, a); }
      if (a.evidence.some((e) => e.signal === signal && e.detail === detail)) continue;
      a.evidence.push({ signal, detail, sharedBy, weight });
    }
    if (sharedBy >= 2 && stmt && !shared.has(stmt)) shared.set(stmt, { signal: stmt, families: sharedBy });
  };

  // Encrypted names: every distinct pattern counts once, with how many of the names it matched.
  const names = [...new Set(signals.encryptedNames)].sort().slice(0, MAX_NAMES);
  const hits = new Map<string, { m: NameMatch; count: number; example: string }>();
  for (const n of names) {
    for (const m of matchName(idx, n)) {
      const key = `${m.kind}:${m.label}`;
      const h = hits.get(key);
      if (h) h.count++; else hits.set(key, { m, count: 1, example: n });
    }
  }
  for (const [, h] of [...hits].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    const { m, count, example } = h;
    const factor = m.broad || m.kind === 'random' ? RANDOM_FACTOR : m.kind === 'template' ? TEMPLATE_FACTOR : m.kind === 'regex' ? REGEX_FACTOR : 1;
    const what = m.kind === 'suffix' ? `\`${m.label}\`` : m.kind === 'random' ? `a random ${m.label.slice(7)}-character extension` : `${m.broad ? 'broad ' : ''}${m.kind} \`${m.label}\``;
    const detail = `${what} matches ${count === 1 ? `\`${example}\`` : `${count} names (e.g. \`${example}\`)`}`;
    add(m.families, 'extension', detail, factor, m.sharedBy, `extension ${what}`);
  }

  // Notes: names, then texts.
  for (const note of [...signals.notes].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (note.name) {
      // A note name is as specific as the number of families any of its entries points to.
      const matches = matchNoteName(idx, note.name);
      const all = new Set(matches.flatMap((m) => m.families)).size;
      for (const m of matches) {
        add(m.families, 'note-name', `note name \`${note.name}\`${m.wildcard ? ` fits \`${m.label}\`` : ''}`, m.wildcard ? 0.8 : 1, all, `note name \`${note.name}\``);
      }
    }
    if (note.text.trim().length >= 20 && idx.notes.size > 0) {
      // Notes are a few KB of text (HTML is reduced to its text by signals.ts): what lies beyond
      // NOTE_SIM_CHARS is not a note, and bounding it bounds the normaliser's work.
      const sig = noteSignature(note.text.length > NOTE_SIM_CHARS ? note.text.slice(0, NOTE_SIM_CHARS) : note.text);
      const best = new Map<string, number>();
      for (const r of idx.notes.query(sig, MIN_NOTE_SIM)) {
        const fam = r.id.slice(0, r.id.lastIndexOf('#'));
        if ((best.get(fam) ?? 0) < r.sim) best.set(fam, r.sim);
      }
      const sims = [...best].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
      for (const [fam, sim] of sims) {
        const close = sims.filter(([, s]) => s >= sim - 0.05).length;
        // A near-identical template is strong; a faint one barely counts.
        const factor = Math.min(1, Math.max(0, (sim - MIN_NOTE_SIM) / (0.6 - MIN_NOTE_SIM)));
        if (factor < 0.05) continue;
        add([fam], 'note-text', `note \`${note.name || '(text)'}\` is ${Math.round(sim * 100)}% similar to a known note`, factor, close, close >= 2 ? `note text of \`${note.name || '(text)'}\`` : undefined);
      }
    }
  }

  // Contacts.
  for (const e of [...new Set(signals.emails.map((x) => x.toLowerCase()))].sort()) {
    const fam = idx.emails.get(e);
    if (fam) add(fam, 'email', `contact \`${e}\``, 1, fam.length, `e-mail \`${e}\``);
  }
  for (const o of [...new Set(signals.onions.map((x) => x.toLowerCase()))].sort()) {
    const fam = idx.onions.get(o);
    if (fam) add(fam, 'onion', `onion \`${o}\``, 1, fam.length, `onion \`${o}\``);
  }

  // File markers in samples.
  for (const m of idx.markers) {
    const where = signals.samples.filter((s) => markerAt(m, s)).map((s) => s.name).sort();
    if (where.length === 0) continue;
    const factor = Math.min(1, m.bytes.length / 8);
    add(m.families, 'marker', `${m.marker.description} (${m.marker.where}${m.marker.offset !== undefined ? `+${m.marker.offset}` : ''}: ${m.marker.hex.slice(0, 32)}) in \`${where[0] as string}\`${where.length > 1 ? ` and ${where.length - 1} more` : ''}`, factor, m.families.length, `marker ${m.marker.hex.slice(0, 32)}`);
  }

  // Scores: per kind, the strongest counts fully, the next DECAY, then DECAY², …
  const scored: { family: Family; score: number; evidence: Evidence[] }[] = [];
  for (const [id, a] of acc) {
    const family = idx.byId.get(id);
    if (!family) continue;
    const evidence = a.evidence.sort((x, y) => y.weight - x.weight || (x.signal < y.signal ? -1 : x.signal > y.signal ? 1 : x.detail < y.detail ? -1 : x.detail > y.detail ? 1 : 0));
    const seen = new Map<string, number>();
    let score = 0;
    for (const e of evidence) {
      const k = seen.get(e.signal) ?? 0;
      score += k === 0 ? e.weight : e.weight * DECAY[e.signal] ** k;
      seen.set(e.signal, k + 1);
    }
    scored.push({ family, score: Math.round(score * 1e6) / 1e6, evidence });
  }
  scored.sort((x, y) => y.score - x.score || (x.family.id < y.family.id ? -1 : x.family.id > y.family.id ? 1 : 0));
  const z = scored.reduce((s, c) => s + Math.exp(c.score / T), Math.exp(U / T));
  const candidates: Candidate[] = scored.map((c) => ({ ...c, confidence: Math.round((Math.exp(c.score / T) / z) * 1e4) / 1e4 }));

  const ambiguous = [...shared.values()].sort((a, b) => b.families - a.families || (a.signal < b.signal ? -1 : a.signal > b.signal ? 1 : 0));
  const top = candidates[0];
  if (top) {
    const tied = candidates.filter((c) => c.score === top.score);
    if (tied.length >= 2) {
      const shown = tied.slice(0, 5).map((c) => c.family.name).join(', ');
      ambiguous.unshift({ signal: `tie at the top: ${shown}${tied.length > 5 ? ', …' : ''}`, families: tied.length });
    }
  }
  return { candidates, ambiguous };
}
