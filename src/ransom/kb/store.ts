/**
 * The ransomware knowledge base on disk: `db/ransom/kb.json` shipped in the package, and the one a
 * user builds with `vigil ransom import-misp` (`$VIGIL_HOME/ransom/kb.json`), which is preferred
 * when present.
 *
 * In: a path (or none: the shipped knowledge base). Out: a validated `KnowledgeBase`, or a
 * `KnowledgeBaseError` listing every problem with its file and JSON path (`$.families[3].extensions[0].value`)
 * or, for a syntax error, its line and column; `saveKnowledgeBase` writes the canonical form —
 * compact JSON, keys in a fixed order — atomically.
 * Why: identification trusts this file; a hand edit or a truncated download must be refused with
 * a message that says where, and the same knowledge base must always give the same bytes.
 */
import { mkdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { packagedDbDir, vigilHome } from '../../core/home.js';
import { writeFileAtomic } from '../../core/newfile.js';
import type { Decryptor, ExtensionPattern, Family, FileMarker, KnowledgeBase } from '../types.js';
import { isSignature } from './minhash.js';
import { unsafeRegexReason } from './patterns.js';

export const KB_FORMAT = 'vigil-ransom-kb/1';
/** Larger files are refused unread (the shipped one is well under 1 MB). */
export const MAX_KB_BYTES = 64 * 1024 * 1024;
/** Validation stops collecting after this many problems. */
export const MAX_PROBLEMS = 200;
export const TEMPLATE_PLACEHOLDER = /\[(ID|EMAIL|EXT|ORIGINAL|RANDOM:[1-9][0-9]?)\]/g;

export interface KbProblem {
  /** JSON path, or `line L, column C` for a syntax error. */
  at: string;
  message: string;
}

export class KnowledgeBaseError extends Error {
  constructor(readonly file: string, readonly problems: KbProblem[]) {
    const shown = problems.slice(0, 5).map((p) => `${p.at}: ${p.message}`).join('; ');
    super(`${file}: invalid ransomware knowledge base: ${shown}${problems.length > 5 ? `; and ${problems.length - 5} more` : ''}`);
    this.name = 'KnowledgeBaseError';
  }
}

/** The knowledge base shipped in the package. */
export function shippedKnowledgeBasePath(): string {
  return join(packagedDbDir(), 'ransom', 'kb.json');
}

/** The knowledge base `vigil ransom import-misp` writes by default. */
export function userKnowledgeBasePath(): string {
  return join(vigilHome(), 'ransom', 'kb.json');
}

/** The user's knowledge base when it exists, else the shipped one. */
export function activeKnowledgeBasePath(): string {
  const user = userKnowledgeBasePath();
  return existsSync(user) ? user : shippedKnowledgeBasePath();
}

/**
 * Reads and validates a knowledge base (default: the shipped one; identification passes
 * `activeKnowledgeBasePath()` to prefer the user's).
 */
export function loadKnowledgeBase(path: string = shippedKnowledgeBasePath()): KnowledgeBase {
  let text: string;
  try {
    const size = statSync(path).size;
    if (size > MAX_KB_BYTES) throw new KnowledgeBaseError(path, [{ at: '$', message: `file of ${size} bytes exceeds the limit of ${MAX_KB_BYTES}` }]);
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if (e instanceof KnowledgeBaseError) throw e;
    throw new KnowledgeBaseError(path, [{ at: '$', message: `cannot be read: ${e instanceof Error ? e.message : String(e)}` }]);
  }
  return parseKnowledgeBase(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text, path);
}

/** Parses and validates knowledge-base JSON text; `file` names it in errors. */
export function parseKnowledgeBase(text: string, file = '<knowledge base>'): KnowledgeBase {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new KnowledgeBaseError(file, [{ at: syntaxLocation(text, e), message: `not JSON: ${e instanceof Error ? e.message : String(e)}` }]);
  }
  const problems = validateKnowledgeBase(json);
  if (problems.length > 0) throw new KnowledgeBaseError(file, problems);
  return json as KnowledgeBase;
}

function syntaxLocation(text: string, e: unknown): string {
  const m = /position (\d+)/.exec(e instanceof Error ? e.message : '');
  if (!m) return '$';
  const pos = Math.min(Number(m[1]), text.length);
  const before = text.slice(0, pos);
  const line = before.split('\n').length;
  return `line ${line}, column ${pos - before.lastIndexOf('\n')}`;
}

/** Writes the canonical form atomically (creating the directory). */
export function saveKnowledgeBase(kb: KnowledgeBase, path: string): void {
  const problems = validateKnowledgeBase(kb);
  if (problems.length > 0) throw new KnowledgeBaseError(path, problems);
  mkdirSync(dirname(path), { recursive: true });
  writeFileAtomic(path, serialiseKnowledgeBase(kb));
}

/** Compact JSON with keys in a fixed order, ending with a newline: same knowledge base, same bytes. */
export function serialiseKnowledgeBase(kb: KnowledgeBase): string {
  return JSON.stringify(canonical(kb)) + '\n';
}

function canonical(kb: KnowledgeBase): KnowledgeBase {
  return {
    format: kb.format,
    built: { from: kb.built.from, ...(kb.built.version !== undefined ? { version: kb.built.version } : {}), at: kb.built.at },
    families: kb.families.map(canonicalFamily),
  };
}

function canonicalFamily(f: Family): Family {
  return {
    id: f.id,
    name: f.name,
    synonyms: [...f.synonyms],
    extensions: f.extensions.map(canonicalExtension),
    noteNames: [...f.noteNames],
    noteHashes: f.noteHashes.map((h) => [...h]),
    emails: [...f.emails],
    onions: [...f.onions],
    markers: f.markers.map((m): FileMarker => ({ where: m.where, hex: m.hex, ...(m.offset !== undefined ? { offset: m.offset } : {}), description: m.description })),
    ...(f.encryption !== undefined ? { encryption: f.encryption } : {}),
    decryptors: f.decryptors.map((d): Decryptor => ({ name: d.name, url: d.url, ...(d.prerequisites !== undefined ? { prerequisites: [...d.prerequisites] } : {}) })),
    refs: [...f.refs],
    sources: [...f.sources],
  };
}

function canonicalExtension(e: ExtensionPattern): ExtensionPattern {
  switch (e.kind) {
    case 'random': return { kind: 'random', length: e.length };
    default: return { kind: e.kind, value: e.value };
  }
}

// ---- validation ----

type Rec = Record<string, unknown>;
const isRec = (v: unknown): v is Rec => typeof v === 'object' && v !== null && !Array.isArray(v);

class Checker {
  readonly problems: KbProblem[] = [];
  add(at: string, message: string): void {
    if (this.problems.length < MAX_PROBLEMS) this.problems.push({ at, message });
  }
  get full(): boolean {
    return this.problems.length >= MAX_PROBLEMS;
  }
  keys(o: Rec, at: string, required: readonly string[], optional: readonly string[]): void {
    for (const k of required) if (!(k in o)) this.add(at, `missing "${k}"`);
    for (const k of Object.keys(o)) if (!required.includes(k) && !optional.includes(k)) this.add(`${at}.${k}`, 'unknown key');
  }
  str(v: unknown, at: string, opts: { nonEmpty?: boolean; max?: number } = {}): v is string {
    if (typeof v !== 'string') { this.add(at, 'not a string'); return false; }
    if (opts.nonEmpty && v.length === 0) { this.add(at, 'empty'); return false; }
    if (v.length > (opts.max ?? 100_000)) { this.add(at, `longer than ${opts.max ?? 100_000} characters`); return false; }
    return true;
  }
  strs(v: unknown, at: string, each?: (s: string, at: string) => void): void {
    if (!Array.isArray(v)) { this.add(at, 'not an array'); return; }
    v.forEach((s, i) => { if (this.str(s, `${at}[${i}]`, { nonEmpty: true, max: 4096 }) && each) each(s, `${at}[${i}]`); });
  }
}

/** Every problem of a knowledge base (at most MAX_PROBLEMS), each with its JSON path; empty when valid. */
export function validateKnowledgeBase(kb: unknown): KbProblem[] {
  const c = new Checker();
  if (!isRec(kb)) { c.add('$', 'not an object'); return c.problems; }
  c.keys(kb, '$', ['format', 'built', 'families'], []);
  if ('format' in kb && kb['format'] !== KB_FORMAT) c.add('$.format', `expected "${KB_FORMAT}", found ${JSON.stringify(kb['format'])?.slice(0, 60)}`);
  const built = kb['built'];
  if (!isRec(built)) c.add('$.built', 'not an object');
  else {
    c.keys(built, '$.built', ['from', 'at'], ['version']);
    c.str(built['from'], '$.built.from', { max: 4096 });
    c.str(built['at'], '$.built.at', { nonEmpty: true, max: 64 });
    if ('version' in built && !(Number.isInteger(built['version']) && (built['version'] as number) >= 0)) c.add('$.built.version', 'not a non-negative integer');
  }
  const fams = kb['families'];
  if (!Array.isArray(fams)) { if ('families' in kb) c.add('$.families', 'not an array'); return c.problems; }
  const ids = new Map<string, number>();
  for (let i = 0; i < fams.length && !c.full; i++) {
    const at = `$.families[${i}]`;
    const f: unknown = fams[i];
    if (!isRec(f)) { c.add(at, 'not an object'); continue; }
    validateFamily(c, f, at);
    if (typeof f['id'] === 'string') {
      const prev = ids.get(f['id']);
      if (prev !== undefined) c.add(`${at}.id`, `duplicate id "${f['id']}" (also $.families[${prev}])`);
      else ids.set(f['id'], i);
    }
  }
  return c.problems;
}

const FAMILY_REQUIRED = ['id', 'name', 'synonyms', 'extensions', 'noteNames', 'noteHashes', 'emails', 'onions', 'markers', 'decryptors', 'refs', 'sources'] as const;

function validateFamily(c: Checker, f: Rec, at: string): void {
  c.keys(f, at, FAMILY_REQUIRED, ['encryption']);
  if (c.str(f['id'], `${at}.id`, { nonEmpty: true, max: 200 }) && !/^[a-z0-9]+(?:-[a-z0-9]+)*$/.test(f['id'])) c.add(`${at}.id`, 'not a lower-case slug (a-z, 0-9, single hyphens)');
  c.str(f['name'], `${at}.name`, { nonEmpty: true, max: 500 });
  c.strs(f['synonyms'], `${at}.synonyms`);
  const exts = f['extensions'];
  if (!Array.isArray(exts)) c.add(`${at}.extensions`, 'not an array');
  else exts.forEach((e, j) => validateExtension(c, e, `${at}.extensions[${j}]`));
  c.strs(f['noteNames'], `${at}.noteNames`, (s, a) => { if (/[/\\\0]/.test(s)) c.add(a, 'a note name has no directory separators'); });
  const hashes = f['noteHashes'];
  if (!Array.isArray(hashes)) c.add(`${at}.noteHashes`, 'not an array');
  else hashes.forEach((h, j) => { if (!isSignature(h)) c.add(`${at}.noteHashes[${j}]`, 'not a MinHash signature (128 unsigned 32-bit integers)'); });
  c.strs(f['emails'], `${at}.emails`, (s, a) => { if (!/^[^\s@]+@[^\s@]+$/.test(s) || s !== s.toLowerCase()) c.add(a, 'not a lower-case e-mail address'); });
  c.strs(f['onions'], `${at}.onions`, (s, a) => { if (!/^(?:[a-z2-7]{16}|[a-z2-7]{56})\.onion$/.test(s)) c.add(a, 'not an onion host name (16 or 56 base32 characters + .onion)'); });
  const markers = f['markers'];
  if (!Array.isArray(markers)) c.add(`${at}.markers`, 'not an array');
  else markers.forEach((m, j) => validateMarker(c, m, `${at}.markers[${j}]`));
  if ('encryption' in f) c.str(f['encryption'], `${at}.encryption`, { max: 4096 });
  const decs = f['decryptors'];
  if (!Array.isArray(decs)) c.add(`${at}.decryptors`, 'not an array');
  else decs.forEach((d, j) => validateDecryptor(c, d, `${at}.decryptors[${j}]`));
  c.strs(f['refs'], `${at}.refs`);
  c.strs(f['sources'], `${at}.sources`);
}

function validateExtension(c: Checker, e: unknown, at: string): void {
  if (!isRec(e)) { c.add(at, 'not an object'); return; }
  switch (e['kind']) {
    case 'suffix':
      c.keys(e, at, ['kind', 'value'], []);
      if (c.str(e['value'], `${at}.value`, { nonEmpty: true, max: 200 }) && !/^\.[^\s/\\]+$/.test(e['value'])) c.add(`${at}.value`, 'a suffix starts with "." and has no spaces or separators');
      else if (typeof e['value'] === 'string' && e['value'] !== e['value'].toLowerCase()) c.add(`${at}.value`, 'a suffix is lower case');
      break;
    case 'template':
      c.keys(e, at, ['kind', 'value'], []);
      if (c.str(e['value'], `${at}.value`, { nonEmpty: true, max: 300 })) {
        const rest = e['value'].replace(TEMPLATE_PLACEHOLDER, '');
        if (rest === e['value']) c.add(`${at}.value`, 'a template has at least one placeholder ([ID], [EMAIL], [EXT], [ORIGINAL], [RANDOM:n])');
        else if (/\[[A-Z][A-Z0-9_:]*\]/.test(rest)) c.add(`${at}.value`, 'unknown placeholder (known: [ID], [EMAIL], [EXT], [ORIGINAL], [RANDOM:n])');
        else if (rest !== rest.toLowerCase()) c.add(`${at}.value`, 'the literal text of a template is lower case');
      }
      break;
    case 'regex':
      c.keys(e, at, ['kind', 'value'], []);
      if (c.str(e['value'], `${at}.value`, { nonEmpty: true, max: 1000 })) {
        const why = unsafeRegexReason(e['value']);
        if (why !== null) c.add(`${at}.value`, why);
      }
      break;
    case 'random':
      c.keys(e, at, ['kind', 'length'], []);
      if (!(Number.isInteger(e['length']) && (e['length'] as number) >= 1 && (e['length'] as number) <= 64)) c.add(`${at}.length`, 'not an integer 1..64');
      break;
    default:
      c.add(`${at}.kind`, `unknown kind ${JSON.stringify(e['kind'])?.slice(0, 40)} (suffix, template, regex, random)`);
  }
}

function validateMarker(c: Checker, m: unknown, at: string): void {
  if (!isRec(m)) { c.add(at, 'not an object'); return; }
  c.keys(m, at, ['where', 'hex', 'description'], ['offset']);
  if (!['start', 'end', 'anywhere'].includes(m['where'] as string)) c.add(`${at}.where`, 'not one of start, end, anywhere');
  if (c.str(m['hex'], `${at}.hex`, { nonEmpty: true, max: 2048 }) && !/^(?:[0-9a-f]{2})+$/.test(m['hex'])) c.add(`${at}.hex`, 'not lower-case hex of whole bytes');
  if ('offset' in m && !(Number.isInteger(m['offset']) && (m['offset'] as number) >= 0)) c.add(`${at}.offset`, 'not a non-negative integer');
  c.str(m['description'], `${at}.description`, { nonEmpty: true, max: 4096 });
}

function validateDecryptor(c: Checker, d: unknown, at: string): void {
  if (!isRec(d)) { c.add(at, 'not an object'); return; }
  c.keys(d, at, ['name', 'url'], ['prerequisites']);
  c.str(d['name'], `${at}.name`, { nonEmpty: true, max: 500 });
  if (c.str(d['url'], `${at}.url`, { nonEmpty: true, max: 2048 }) && !/^https?:\/\/[^\s]+$/.test(d['url'])) c.add(`${at}.url`, 'not an http(s) URL');
  if ('prerequisites' in d) c.strs(d['prerequisites'], `${at}.prerequisites`);
}

/** A lower-case slug of a family name: the family id. */
export function slugOf(name: string): string {
  const s = name.normalize('NFKD').replace(/[\u0300-\u036f]/g, '').toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '');
  return s.length > 0 ? s.slice(0, 120).replace(/-+$/, '') : 'family';
}
