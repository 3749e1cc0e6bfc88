/**
 * Threat-intelligence import: MISP events and feeds, STIX 2.1 bundles and hash lists → ClamAV
 * hash databases, a YARA rule file and a provenance sidecar per source.
 *
 * In: input paths (files or a MISP feed directory), an output directory, the import time.
 * Out: per source NAME, in the output directory, `NAME.hdb` (MD5), `NAME.hsb` (SHA-1, SHA-256),
 * `NAME.yar` (YARA rules, each one compiled by the project's compiler) and `NAME.provenance.json`
 * (who published each signature, in which event or indicator, when); a report per input of what
 * was imported, what was skipped and why, and every problem with its location (JSON path or line).
 * Why: signatures from threat-intelligence platforms must keep where they came from, so that a
 * detection can be traced back to the event or indicator that asked for it.
 *
 * Formats are recognised by content, not by extension:
 * - MISP: `{"Event":{…}}`, a list of events, `{"response":[…]}` search exports, a feed directory
 *   (`manifest.json` + `<uuid>.json`) or its manifest. Attributes (also inside objects) of type
 *   md5, sha1, sha256, filename|md5, filename|sha1, filename|sha256, malware-sample and yara with
 *   `to_ids` set; `size-in-bytes` of the same object gives the file size.
 * - STIX 2.1 bundles: indicators with `pattern_type` `stix` (file-hash comparisons, parsed with the
 *   STIX patterning grammar) or `yara`; revoked, expired and not-yet-valid ones are skipped.
 * - Hash lists (one hash per line, `#` comments) and MalwareBazaar's CSV export.
 *
 * Signature names (documented in the report, stable across re-imports of the same data):
 *   MISP.E<event id>.<Md5|Sha1|Sha256>.<first 16 hex digits>   (MISP.U<uuid prefix> without an id)
 *   STIX.I<first 8 hex of the indicator UUID>.<Algo>.<16 hex>
 *   HashList.<Algo>.<16 hex>, MalwareBazaar.<Algo>.<16 hex>
 * The full hash replaces the 16-digit prefix when two hashes of a source share it. A hash seen
 * several times is one signature named after its first occurrence (lowest event id, then UUID;
 * indicator id; line), with every occurrence in its provenance. YARA rules are renamed
 * `MISP_E<id>_<rule>` or `STIX_I<uuid8>_<rule>` (references between the rules of one source follow),
 * so that the scanner reports `YARA.MISP_E1234_rule`.
 *
 * The sidecar `NAME.provenance.json` (format `vigil-ti-provenance`, version 1) is one JSON object,
 * written with fixed key order and one signature per line:
 *   {"format","version","source","importedAt","inputs":[{file,format,sha256}],"files":[…],
 *    "signatures":{"<name>":{"kind":"hash","algo","hash","sizes"?,"entries":[ProvenanceEntry…]}
 *                  "YARA.<rule>":{"kind":"yara","rule","entries":[…]}}}
 * keyed by the signature name without `.UNOFFICIAL`, names sorted, entries first occurrence first.
 *
 * Each output file is written to a temporary sibling and renamed over the old one; files an
 * earlier import of the same source wrote and this one does not are removed. Nothing is downloaded.
 */
import { writeFileAtomic } from '../core/newfile.js';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { HashAlgo } from '../signatures/clamav/types.js';
import { parseYara } from '../signatures/yara/parser.js';
import type { Rule, Span } from '../signatures/yara/ast.js';
import { compileYara } from '../engine/yara/rules.js';

// ───────────────────────────── limits ─────────────────────────────

/** Largest input file read (a MISP event, a STIX bundle, a hash list). */
export const MAX_INPUT_BYTES = 256 * 1024 * 1024;
/** Largest YARA source of one attribute or indicator. */
export const MAX_YARA_BYTES = 1024 * 1024;
/** Longest STIX pattern parsed. */
export const MAX_PATTERN_CHARS = 64 * 1024;
/** Longest attribute value that is not YARA (a filename|sha256 is far shorter). */
export const MAX_VALUE_CHARS = 4096;
/** Text kept of descriptive fields (event info, names, tags); longer text is cut and marked. */
export const MAX_TEXT_CHARS = 512;
/** Tags kept per event or attribute. */
export const MAX_TAGS = 32;
/** Event files read from one MISP feed directory. */
export const MAX_FEED_EVENTS = 100_000;
/** Problems reported in full per input (the rest are counted). */
export const MAX_PROBLEMS = 200;

// ───────────────────────────── types ─────────────────────────────

export type TiFormat = 'misp' | 'misp-feed' | 'stix' | 'hashlist' | 'malwarebazaar-csv';

/** One occurrence of a signature in the threat intelligence: who, where, when. */
export interface ProvenanceEntry {
  format: TiFormat;
  /** Who published it: the MISP creator organisation, the STIX identity, or the list's file name. */
  source: string;
  /** The organisation's UUID or the identity's id. */
  sourceId?: string;
  /** MISP: the event. */
  event?: { id?: string; uuid?: string; info?: string };
  /** MISP: the attribute (and the object holding it). */
  attribute?: { uuid?: string; type: string; object?: string; objectUuid?: string };
  /** STIX: the indicator. */
  indicator?: { id: string; name?: string; created?: string; modified?: string };
  /** ISO 8601 UTC: the attribute's timestamp (else the event's), the indicator's modified (else created), the list's first_seen (else the import time). */
  time?: string;
  tags?: string[];
  /** A file name the intelligence gives for the sample. */
  filename?: string;
  /** A malware family the intelligence gives (MalwareBazaar `signature`). */
  malware?: string;
  /** Where in the input: its file name and a JSON path (`$.Event.Attribute[3]`) or `line N`. */
  input: { file: string; at: string };
}

export interface ImportProblem {
  severity: 'error' | 'warning';
  code: string;
  /** The input file. */
  file: string;
  /** JSON path (`$.Event.Attribute[2].value`), `line N`, `line N, column C` or `` for the whole file. */
  at: string;
  message: string;
}

interface HashItem { algo: HashAlgo; hash: string; size: number | null; prefix: string; order: string; entry: ProvenanceEntry }
interface YaraItem { text: string; prefix: string; order: string; entry: ProvenanceEntry }

/** What one input gave. */
export interface ParsedInput {
  file: string;
  format: TiFormat | 'unknown';
  /** Events (MISP), indicators (STIX) or lines (lists) read. */
  units: number;
  hashes: HashItem[];
  yara: YaraItem[];
  /** Items left out on purpose or for a problem, by reason. */
  skipped: Record<string, number>;
  problems: ImportProblem[];
  /** False when the input as a whole could not be read (nothing of it is imported). */
  ok: boolean;
  /** SHA-256 of the input's bytes (of the manifest for a feed). */
  sha256?: string;
}

export interface ParseOptions {
  /** The import time: validity of STIX indicators, the time of list entries. */
  now: Date;
}

// ───────────────────────────── small helpers ─────────────────────────────

const HEX_LEN: Readonly<Record<HashAlgo, number>> = { md5: 32, sha1: 40, sha256: 64 };
const ALGO_LABEL: Readonly<Record<HashAlgo, string>> = { md5: 'Md5', sha1: 'Sha1', sha256: 'Sha256' };
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return v.length > 40 ? `a string of ${v.length} characters` : `the string ${JSON.stringify(v)}`;
  return `${typeof v} ${String(v)}`;
}

function propPath(at: string, key: string): string {
  return /^[A-Za-z_][A-Za-z0-9_-]*$/.test(key) ? `${at}.${key}` : `${at}[${JSON.stringify(key)}]`;
}

/** Descriptive text: control characters replaced, cut at MAX_TEXT_CHARS. */
function text(v: unknown): string | undefined {
  if (typeof v !== 'string' && typeof v !== 'number') return undefined;
  const raw = String(v);
  let s = Array.from(raw.slice(0, MAX_TEXT_CHARS), (ch) => (ch.charCodeAt(0) < 0x20 || ch === '\u007f' ? ' ' : ch)).join('');
  if (raw.length > MAX_TEXT_CHARS) s += '…';
  return s.length > 0 ? s : undefined;
}

/** A MISP timestamp (seconds since the epoch, as a number or a decimal string) as ISO 8601. */
function unixTime(v: unknown): string | undefined {
  const s = typeof v === 'number' ? String(v) : typeof v === 'string' ? v.trim() : '';
  if (!/^\d{1,12}$/.test(s)) return undefined;
  const ms = Number(s) * 1000;
  return ms > 0 && ms < 8.64e15 ? isoSeconds(new Date(ms)) : undefined;
}

/** An RFC 3339 timestamp (STIX), normalised to ISO 8601 UTC, or undefined. */
function rfc3339(v: unknown): string | undefined {
  if (typeof v !== 'string' || v.length > 64) return undefined;
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(v)) return undefined;
  const t = Date.parse(v);
  return Number.isFinite(t) ? new Date(t).toISOString() : undefined;
}

function isoSeconds(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function tagsOf(v: unknown): string[] | undefined {
  if (!Array.isArray(v)) return undefined;
  const out: string[] = [];
  for (const t of v) {
    const name = isObj(t) ? text(t['name']) : text(t);
    if (name !== undefined && out.length < MAX_TAGS) out.push(name);
  }
  return out.length > 0 ? out : undefined;
}

/** A hash value checked against its algorithm, lower-cased; the problem otherwise. */
function checkHash(algo: HashAlgo, value: string): { hash: string } | { problem: string } {
  const v = value.trim();
  if (v.length !== HEX_LEN[algo]) return { problem: `${algo.toUpperCase()} hash has ${v.length} characters; expected ${HEX_LEN[algo]} hex digits` };
  const bad = /[^0-9a-fA-F]/.exec(v);
  if (bad) return { problem: `invalid character ${JSON.stringify(bad[0])} at position ${bad.index + 1} of the ${algo.toUpperCase()} hash` };
  return { hash: v.toLowerCase() };
}

function bump(map: Record<string, number>, reason: string, n = 1): void {
  map[reason] = (map[reason] ?? 0) + n;
}

class Reporter {
  constructor(private readonly p: ParsedInput) {}
  problem(severity: 'error' | 'warning', code: string, at: string, message: string): void {
    if (this.p.problems.length < MAX_PROBLEMS) this.p.problems.push({ severity, code, file: this.p.file, at, message });
    else if (this.p.problems.length === MAX_PROBLEMS) this.p.problems.push({ severity: 'warning', code: 'ti.too-many-problems', file: this.p.file, at: '', message: `more than ${MAX_PROBLEMS} problems; the rest are only counted` });
  }
  /** An item left out because it is invalid: a located warning and a count. */
  invalid(code: string, at: string, message: string): void {
    this.problem('warning', code, at, message);
    bump(this.p.skipped, 'invalid');
  }
  fatal(code: string, at: string, message: string): void {
    this.problem('error', code, at, message);
    this.p.ok = false;
  }
}

function emptyParsed(file: string): ParsedInput {
  return { file, format: 'unknown', units: 0, hashes: [], yara: [], skipped: {}, problems: [], ok: true };
}

// ───────────────────────────── JSON with located errors ─────────────────────────────

/**
 * Parses JSON; on a syntax error, the line and column of the first offending character (found by
 * a small scanner of our own, since the engine's messages do not always carry a position).
 */
export function parseJsonLocated(src: string): { value: Json } | { line: number; column: number; message: string } {
  try {
    return { value: JSON.parse(src) as Json };
  } catch (e) {
    const { offset, message } = jsonErrorAt(src);
    let line = 1;
    let col = 1;
    for (let i = 0; i < offset && i < src.length; i++) {
      if (src.charCodeAt(i) === 0x0a) { line++; col = 1; } else col++;
    }
    return { line, column: col, message: message || (e instanceof Error ? e.message : String(e)) };
  }
}

/** The offset of the first JSON syntax error and what was expected there (iterative: no recursion on nesting). */
function jsonErrorAt(s: string): { offset: number; message: string } {
  let i = 0;
  const n = s.length;
  const stack: ('{' | '[')[] = [];
  const ws = (): void => { while (i < n && (s[i] === ' ' || s[i] === '\t' || s[i] === '\n' || s[i] === '\r')) i++; };
  const fail = (message: string): { offset: number; message: string } => ({ offset: i, message: i >= n ? `unexpected end of input: ${message}` : `${message}, found ${JSON.stringify(s[i])}` });
  const str = (): string | null => {
    const open = i;
    i++;
    while (i < n) {
      const c = s.charCodeAt(i);
      if (c === 0x22) { i++; return null; }
      if (c < 0x20) return 'control character in string';
      if (c === 0x5c) {
        i++;
        const e = s[i];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(s.slice(i + 1, i + 5))) return 'invalid \\u escape';
          i += 5;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i++;
        else return 'invalid escape';
      } else i++;
    }
    i = open; // pointed at where the string starts
    return 'unterminated string';
  };
  const num = (): boolean => {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(s.slice(i, i + 400));
    if (!m) return false;
    i += m[0].length;
    return true;
  };
  // States: expecting a value, or after a value inside a container.
  let expectValue = true;
  for (;;) {
    ws();
    if (expectValue) {
      const c = s[i];
      if (c === '{') {
        i++; ws();
        if (s[i] === '}') { i++; expectValue = false; }
        else {
          if (s[i] !== '"') return fail('expected a property name in double quotes');
          const e = str(); if (e) return fail(e);
          ws(); if (s[i] !== ':') return fail("expected ':' after the property name");
          i++; stack.push('{');
          continue;
        }
      } else if (c === '[') {
        i++; ws();
        if (s[i] === ']') { i++; expectValue = false; }
        else { stack.push('['); continue; }
      } else if (c === '"') {
        const e = str(); if (e) return fail(e);
        expectValue = false;
      } else if (s.startsWith('true', i)) { i += 4; expectValue = false; }
      else if (s.startsWith('false', i)) { i += 5; expectValue = false; }
      else if (s.startsWith('null', i)) { i += 4; expectValue = false; }
      else if (num()) expectValue = false;
      else return fail('expected a value');
    } else {
      const top = stack[stack.length - 1];
      if (top === undefined) {
        if (i < n) return fail('unexpected text after the JSON value');
        return { offset: i, message: '' };
      }
      const c = s[i];
      if (c === ',') {
        i++;
        if (top === '{') {
          ws();
          if (s[i] !== '"') return fail('expected a property name in double quotes');
          const e = str(); if (e) return fail(e);
          ws(); if (s[i] !== ':') return fail("expected ':' after the property name");
          i++;
        }
        expectValue = true;
      } else if ((c === '}' && top === '{') || (c === ']' && top === '[')) {
        i++; stack.pop();
      } else return fail(top === '{' ? "expected ',' or '}'" : "expected ',' or ']'");
    }
  }
}

// ───────────────────────────── input dispatch ─────────────────────────────

/** Reads a file with a size bound; the error text otherwise. */
function readBounded(path: string): { bytes: Buffer } | { error: string } {
  try {
    const st = statSync(path);
    if (!st.isFile()) return { error: 'not a regular file' };
    if (st.size > MAX_INPUT_BYTES) return { error: `file is ${st.size} bytes; the limit is ${MAX_INPUT_BYTES}` };
    const bytes = readFileSync(path);
    if (bytes.length > MAX_INPUT_BYTES) return { error: `file is over ${MAX_INPUT_BYTES} bytes` };
    return { bytes };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return { error: err.code === 'ENOENT' ? 'no such file or directory' : err.message };
  }
}

/**
 * Parses one input: a file (format from its content) or a MISP feed directory. Never throws for
 * bad content; `ok` is false when nothing of it could be read.
 */
export function parseTiInput(path: string, opts: ParseOptions): ParsedInput {
  let isDir = false;
  try { isDir = statSync(path).isDirectory(); } catch { /* reported by readBounded */ }
  if (isDir) return parseMispFeedDir(path, join(path, 'manifest.json'));
  const r = readBounded(path);
  const p = emptyParsed(basename(path));
  if ('error' in r) {
    new Reporter(p).fatal('ti.read', '', `can't read ${path}: ${r.error}`);
    return p;
  }
  const head = r.bytes.subarray(0, 4096).toString('utf8').replace(/^\uFEFF/, '').trimStart();
  if (head.startsWith('{') || head.startsWith('[')) {
    // A feed's manifest is read with its event files.
    const parsed = parseJsonBytes(r.bytes, p);
    if (parsed === undefined) return p;
    if (looksLikeManifest(parsed)) return parseMispFeedDir(dirname(path), path, r.bytes, parsed);
    return parseTiJson(parsed, p, opts);
  }
  return parseTiText(r.bytes, p, opts);
}

/** Parses the bytes of one input whose name is `file` (no feed directories: a manifest alone lists no events). */
export function parseTiBytes(bytes: Uint8Array, file: string, opts: ParseOptions): ParsedInput {
  const p = emptyParsed(file);
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length > MAX_INPUT_BYTES) {
    new Reporter(p).fatal('ti.too-large', '', `input is ${buf.length} bytes; the limit is ${MAX_INPUT_BYTES}`);
    return p;
  }
  const head = buf.subarray(0, 4096).toString('utf8').replace(/^\uFEFF/, '').trimStart();
  if (head.startsWith('{') || head.startsWith('[')) {
    const parsed = parseJsonBytes(buf, p);
    return parsed === undefined ? p : parseTiJson(parsed, p, opts);
  }
  return parseTiText(buf, p, opts);
}

function parseJsonBytes(bytes: Buffer, p: ParsedInput): Json | undefined {
  p.sha256 = createHash('sha256').update(bytes).digest('hex');
  const src = bytes.toString('utf8').replace(/^\uFEFF/, '');
  const r = parseJsonLocated(src);
  if ('value' in r) return r.value;
  new Reporter(p).fatal('ti.json-syntax', `line ${r.line}, column ${r.column}`, `invalid JSON: ${r.message}`);
  return undefined;
}

function parseTiJson(root: Json, p: ParsedInput, opts: ParseOptions): ParsedInput {
  const rep = new Reporter(p);
  if (isObj(root) && root['type'] === 'bundle') {
    p.format = 'stix';
    parseStixBundle(root, p, rep, opts);
    return p;
  }
  if (isObj(root) && isObj(root['response']) && Array.isArray(root['response']['Attribute'])) {
    // restSearch on attributes: each attribute carries its event (`Event`, `event_id`).
    p.format = 'misp';
    const seen = new Set<string>();
    root['response']['Attribute'].forEach((a, k) => {
      const at = `$.response.Attribute[${k}]`;
      if (!isObj(a)) { rep.invalid('ti.misp-type', at, `expected an attribute object, found ${typeName(a)}`); return; }
      const ev: Obj = isObj(a['Event']) ? { ...a['Event'] } : {};
      if (ev['id'] === undefined && a['event_id'] !== undefined) ev['id'] = a['event_id'];
      const ctx = mispEventCtx(ev, p.file);
      const key = ctx.id ?? ctx.uuid ?? '';
      if (!seen.has(key)) { seen.add(key); p.units++; }
      parseMispAttribute(a, at, ctx, null, p, rep);
    });
    return p;
  }
  const events = mispEventList(root, rep);
  if (events === undefined) {
    rep.fatal('ti.unknown-format', '$', `not a recognised format: expected a MISP event ({"Event": …}), a list of events, a {"response": […]} export, a MISP feed manifest or a STIX 2.1 bundle ({"type": "bundle"}); found ${typeName(root)}${isObj(root) ? ` with keys ${Object.keys(root).slice(0, 5).map((k) => JSON.stringify(k)).join(', ')}` : ''}`);
    return p;
  }
  p.format = 'misp';
  for (const e of events) parseMispEvent(e.event, e.at, p, rep);
  return p;
}

// ───────────────────────────── MISP ─────────────────────────────

const MISP_HASH_TYPES: Readonly<Record<string, { algo: HashAlgo; filename: boolean }>> = {
  md5: { algo: 'md5', filename: false },
  sha1: { algo: 'sha1', filename: false },
  sha256: { algo: 'sha256', filename: false },
  'filename|md5': { algo: 'md5', filename: true },
  'filename|sha1': { algo: 'sha1', filename: true },
  'filename|sha256': { algo: 'sha256', filename: true },
  'malware-sample': { algo: 'md5', filename: true },
};

/** Attribute types that only describe a MISP object (counted apart from unsupported types). */
const MISP_OBJECT_HELPERS = new Set(['size-in-bytes', 'filename', 'mime-type', 'text', 'comment', 'datetime', 'counter', 'float']);

function looksBareEvent(o: Obj): boolean {
  return ('Attribute' in o || 'Object' in o) && ('info' in o || 'uuid' in o);
}

function looksLikeManifest(v: Json): v is Obj {
  if (!isObj(v)) return false;
  const keys = Object.keys(v);
  if (keys.length === 0) return false;
  // Keys are event UUIDs (a key that is not one is reported when the feed is read).
  return !('Event' in v || 'response' in v || 'type' in v) && keys.some((k) => UUID_RE.test(k) && isObj(v[k]));
}

/** The events of a MISP document with their JSON paths, or undefined when it is not MISP. */
function mispEventList(root: Json, rep: Reporter): { event: Json; at: string }[] | undefined {
  const unwrap = (v: Json, at: string): { event: Json; at: string } => (isObj(v) && 'Event' in v ? { event: v['Event']!, at: `${at}.Event` } : { event: v, at });
  if (isObj(root)) {
    if ('Event' in root) return [unwrap(root, '$')];
    if ('response' in root) {
      const r = root['response'];
      if (Array.isArray(r)) return r.map((v, k) => unwrap(v, `$.response[${k}]`));
      if (isObj(r) && Array.isArray(r['Event'])) return r['Event'].map((v, k) => unwrap(v, `$.response.Event[${k}]`));
      rep.fatal('ti.misp-type', '$.response', `expected an array of events, found ${typeName(r)}`);
      return [];
    }
    if (looksBareEvent(root)) return [{ event: root, at: '$' }];
    return undefined;
  }
  if (Array.isArray(root)) {
    if (root.length > 0 && !root.some((v) => isObj(v) && ('Event' in v || looksBareEvent(v)))) return undefined;
    return root.map((v, k) => unwrap(v, `$[${k}]`));
  }
  return undefined;
}

function parseMispFeedDir(dir: string, manifestPath: string, bytes?: Buffer, manifest?: Json): ParsedInput {
  const p = emptyParsed(basename(dir) || dir);
  p.format = 'misp-feed';
  const rep = new Reporter(p);
  if (manifest === undefined) {
    const r = readBounded(manifestPath);
    if ('error' in r) {
      rep.fatal('ti.feed-manifest', '', `${dir} is a directory but not a MISP feed: can't read manifest.json (${r.error})`);
      return p;
    }
    bytes = r.bytes;
    const sub = emptyParsed('manifest.json');
    manifest = parseJsonBytes(r.bytes, sub);
    for (const q of sub.problems) rep.problem(q.severity, q.code, q.at, `manifest.json: ${q.message}`);
    if (manifest === undefined) { p.ok = false; return p; }
  }
  if (bytes) p.sha256 = createHash('sha256').update(bytes).digest('hex');
  if (!isObj(manifest)) {
    rep.fatal('ti.feed-manifest', '$', `manifest.json: expected an object keyed by event UUID, found ${typeName(manifest)}`);
    return p;
  }
  // Event files in UUID order, so that the result does not depend on the manifest's key order.
  const uuids = Object.keys(manifest).sort();
  let read = 0;
  for (const uuid of uuids) {
    const at = `manifest.json ${propPath('$', uuid)}`;
    if (!UUID_RE.test(uuid)) {
      // Also what keeps a hostile manifest from naming a file outside the feed.
      rep.invalid('ti.feed-uuid', at, 'manifest key is not an event UUID; skipped');
      continue;
    }
    if (++read > MAX_FEED_EVENTS) {
      rep.problem('warning', 'ti.feed-limit', at, `more than ${MAX_FEED_EVENTS} events in the feed; the rest were not read`);
      bump(p.skipped, 'over the feed event limit', uuids.length - MAX_FEED_EVENTS);
      break;
    }
    const file = `${uuid}.json`;
    const r = readBounded(join(dir, file));
    if ('error' in r) {
      rep.invalid('ti.feed-event', at, `event file ${file}: ${r.error}`);
      continue;
    }
    const sub = emptyParsed(file);
    const root = parseJsonBytes(r.bytes, sub);
    if (root === undefined) {
      for (const q of sub.problems) rep.problem('warning', q.code, `${file} ${q.at}`, q.message);
      bump(p.skipped, 'invalid');
      continue;
    }
    const subRep = new Reporter(sub);
    const events = mispEventList(root, subRep);
    if (events === undefined || events.length === 0) {
      rep.invalid('ti.feed-event', `${file} $`, `event file is not a MISP event: found ${typeName(root)}`);
      continue;
    }
    for (const e of events) {
      if (isObj(e.event) && typeof e.event['uuid'] === 'string' && e.event['uuid'].toLowerCase() !== uuid.toLowerCase()) {
        rep.problem('warning', 'ti.feed-uuid-mismatch', `${file} ${e.at}.uuid`, `event UUID ${e.event['uuid']} is not the ${uuid} its file name says`);
      }
      parseMispEvent(e.event, e.at, sub, subRep);
    }
    p.units += sub.units;
    p.hashes.push(...sub.hashes);
    p.yara.push(...sub.yara);
    for (const [k, v] of Object.entries(sub.skipped)) bump(p.skipped, k, v);
    for (const q of sub.problems) rep.problem(q.severity === 'error' ? 'warning' : q.severity, q.code, `${file} ${q.at}`, q.message);
  }
  return p;
}

interface MispEventCtx {
  file: string;
  id?: string;
  uuid?: string;
  info?: string;
  org: string;
  orgId?: string;
  time?: string;
  tags?: string[];
  prefix: string;
  yaraPrefix: string;
  order: string;
}

/** What every attribute of an event shares: organisation, ids, time, tags, name prefix. */
function mispEventCtx(ev: Obj, file: string): MispEventCtx {
  const idRaw = ev['id'];
  const id = (typeof idRaw === 'string' || typeof idRaw === 'number') && /^\d{1,18}$/.test(String(idRaw)) ? String(idRaw).replace(/^0+(?=\d)/, '') : undefined;
  const uuid = typeof ev['uuid'] === 'string' && UUID_RE.test(ev['uuid']) ? ev['uuid'].toLowerCase() : undefined;
  const orgc = isObj(ev['Orgc']) ? ev['Orgc'] : isObj(ev['Org']) ? ev['Org'] : undefined;
  const org = text(orgc?.['name']) ?? 'MISP';
  const orgId = typeof orgc?.['uuid'] === 'string' && UUID_RE.test(orgc['uuid']) ? orgc['uuid'].toLowerCase() : undefined;
  const token = id !== undefined ? `E${id}` : uuid !== undefined ? `U${uuid.slice(0, 8)}` : 'E0';
  const date = typeof ev['date'] === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(ev['date']) ? `${ev['date']}T00:00:00Z` : undefined;
  const ctx: MispEventCtx = {
    file, org, ...(orgId ? { orgId } : {}), ...(id ? { id } : {}), ...(uuid ? { uuid } : {}),
    ...(text(ev['info']) !== undefined ? { info: text(ev['info'])! } : {}),
    ...((unixTime(ev['timestamp']) ?? date) ? { time: (unixTime(ev['timestamp']) ?? date)! } : {}),
    ...(tagsOf(ev['Tag']) ? { tags: tagsOf(ev['Tag'])! } : {}),
    prefix: `MISP.${token}`, yaraPrefix: `MISP_${token}`,
    order: `m:${(id ?? '').padStart(18, '0')}:${uuid ?? ''}`,
  };
  return ctx;
}

function parseMispEvent(ev: Json, at: string, p: ParsedInput, rep: Reporter): void {
  if (!isObj(ev)) {
    rep.invalid('ti.misp-type', at, `expected an event object, found ${typeName(ev)}`);
    return;
  }
  p.units++;
  const ctx = mispEventCtx(ev, p.file);
  const attrs = ev['Attribute'];
  if (attrs !== undefined && !Array.isArray(attrs)) rep.invalid('ti.misp-type', `${at}.Attribute`, `expected an array of attributes, found ${typeName(attrs)}`);
  else if (attrs) attrs.forEach((a, k) => parseMispAttribute(a, `${at}.Attribute[${k}]`, ctx, null, p, rep));
  const objs = ev['Object'];
  if (objs !== undefined && !Array.isArray(objs)) rep.invalid('ti.misp-type', `${at}.Object`, `expected an array of objects, found ${typeName(objs)}`);
  else if (objs) {
    objs.forEach((o, k) => {
      const oat = `${at}.Object[${k}]`;
      if (!isObj(o)) { rep.invalid('ti.misp-type', oat, `expected a MISP object, found ${typeName(o)}`); return; }
      if (o['deleted'] === true) return;
      const oattrs = o['Attribute'];
      if (!Array.isArray(oattrs)) {
        if (oattrs !== undefined) rep.invalid('ti.misp-type', `${oat}.Attribute`, `expected an array of attributes, found ${typeName(oattrs)}`);
        return;
      }
      // The object's file size, from its size-in-bytes attribute.
      let size: number | null = null;
      oattrs.forEach((a, j) => {
        if (!isObj(a) || (a['type'] !== 'size-in-bytes' && a['object_relation'] !== 'size-in-bytes')) return;
        const v = typeof a['value'] === 'number' ? String(a['value']) : typeof a['value'] === 'string' ? a['value'].trim() : '';
        const n = /^\d{1,10}$/.test(v) ? Number(v) : NaN;
        if (n >= 1 && n <= 0xfffffffe) { if (size === null) size = n; }
        else rep.problem('warning', 'ti.misp-size', `${oat}.Attribute[${j}].value`, `size-in-bytes ${typeName(a['value'])} is not a size from 1 to ${0xfffffffe}; the object's hashes match any size`);
      });
      const obj = { name: text(o['name']) ?? 'object', ...(typeof o['uuid'] === 'string' && UUID_RE.test(o['uuid']) ? { uuid: o['uuid'].toLowerCase() } : {}), size };
      oattrs.forEach((a, j) => parseMispAttribute(a, `${oat}.Attribute[${j}]`, ctx, obj, p, rep));
    });
  }
}

function parseMispAttribute(a: Json, at: string, ev: MispEventCtx, obj: { name: string; uuid?: string; size: number | null } | null, p: ParsedInput, rep: Reporter): void {
  if (!isObj(a)) { rep.invalid('ti.misp-type', at, `expected an attribute object, found ${typeName(a)}`); return; }
  const type = a['type'];
  if (typeof type !== 'string') { rep.invalid('ti.misp-type', `${at}.type`, `expected the attribute type as a string, found ${typeName(type)}`); return; }
  if (a['deleted'] === true || a['deleted'] === 1 || a['deleted'] === '1') { bump(p.skipped, 'deleted'); return; }
  const hashType = MISP_HASH_TYPES[type];
  if (!hashType && type !== 'yara') {
    if (obj && MISP_OBJECT_HELPERS.has(type)) return; // part of the object's description, not an indicator
    bump(p.skipped, `type ${type.length > 40 ? type.slice(0, 40) + '…' : type}`);
    return;
  }
  const toIds = a['to_ids'];
  const ids = toIds === true || toIds === 1 || toIds === '1' || toIds === 'true' ? true : toIds === false || toIds === 0 || toIds === '0' || toIds === 'false' || toIds === undefined ? false : null;
  if (ids === null) { rep.invalid('ti.misp-type', `${at}.to_ids`, `expected true or false, found ${typeName(toIds)}`); return; }
  if (!ids) { bump(p.skipped, 'to_ids false'); return; }
  const value = a['value'];
  if (typeof value !== 'string') { rep.invalid('ti.misp-type', `${at}.value`, `expected a string, found ${typeName(value)}`); return; }
  const limit = type === 'yara' ? MAX_YARA_BYTES : MAX_VALUE_CHARS;
  if (value.length > limit) { rep.invalid('ti.too-long', `${at}.value`, `value is ${value.length} characters; the limit for ${type} is ${limit}`); return; }
  const uuid = typeof a['uuid'] === 'string' && UUID_RE.test(a['uuid']) ? a['uuid'].toLowerCase() : undefined;
  const attrTags = tagsOf(a['Tag']);
  const tags = [...(ev.tags ?? []), ...(attrTags ?? [])].slice(0, MAX_TAGS);
  const time = unixTime(a['timestamp']) ?? ev.time;
  const entry = (filename?: string): ProvenanceEntry => ({
    format: 'misp', source: ev.org, ...(ev.orgId ? { sourceId: ev.orgId } : {}),
    event: { ...(ev.id ? { id: ev.id } : {}), ...(ev.uuid ? { uuid: ev.uuid } : {}), ...(ev.info ? { info: ev.info } : {}) },
    attribute: { ...(uuid ? { uuid } : {}), type, ...(obj ? { object: obj.name, ...(obj.uuid ? { objectUuid: obj.uuid } : {}) } : {}) },
    ...(time ? { time } : {}), ...(tags.length > 0 ? { tags } : {}), ...(filename ? { filename } : {}),
    input: { file: ev.file, at },
  });
  const order = `${ev.order}:${uuid ?? at}`;
  if (type === 'yara') {
    p.yara.push({ text: value, prefix: ev.yaraPrefix, order, entry: entry() });
    return;
  }
  const ht = hashType!;
  let hashText = value;
  let filename: string | undefined;
  if (ht.filename) {
    const bar = value.lastIndexOf('|');
    if (bar < 0) { rep.invalid('ti.bad-hash', `${at}.value`, `${type} value must be "filename|hash"; there is no '|'`); return; }
    filename = text(value.slice(0, bar));
    hashText = value.slice(bar + 1);
  }
  const h = checkHash(ht.algo, hashText);
  if ('problem' in h) { rep.invalid('ti.bad-hash', `${at}.value`, h.problem); return; }
  p.hashes.push({ algo: ht.algo, hash: h.hash, size: obj?.size ?? null, prefix: ev.prefix, order, entry: entry(filename) });
}

// ───────────────────────────── STIX 2.1 ─────────────────────────────

function parseStixBundle(root: Obj, p: ParsedInput, rep: Reporter, opts: ParseOptions): void {
  const objects = root['objects'];
  if (objects === undefined) return;
  if (!Array.isArray(objects)) { rep.fatal('ti.stix-type', '$.objects', `expected an array, found ${typeName(objects)}`); return; }
  const identities = new Map<string, string>();
  objects.forEach((o) => {
    if (isObj(o) && o['type'] === 'identity' && typeof o['id'] === 'string') {
      const name = text(o['name']);
      if (name) identities.set(o['id'], name);
    }
  });
  // The newest version of each indicator (STIX objects are versioned by `modified`).
  const latest = new Map<string, { o: Obj; k: number; modified: string }>();
  objects.forEach((o, k) => {
    const at = `$.objects[${k}]`;
    if (!isObj(o)) { rep.invalid('ti.stix-type', at, `expected a STIX object, found ${typeName(o)}`); return; }
    if (o['type'] !== 'indicator') return;
    const id = o['id'];
    if (typeof id !== 'string' || !id.startsWith('indicator--') || !UUID_RE.test(id.slice(11))) {
      rep.invalid('ti.stix-type', `${at}.id`, `expected an indicator id "indicator--<UUID>", found ${typeName(id)}`);
      return;
    }
    const modified = rfc3339(o['modified']) ?? rfc3339(o['created']) ?? '';
    const prev = latest.get(id);
    if (prev && prev.modified >= modified) { bump(p.skipped, 'older version of an indicator'); return; }
    if (prev) bump(p.skipped, 'older version of an indicator');
    latest.set(id, { o, k, modified });
  });
  const now = opts.now.getTime();
  for (const { o, k } of [...latest.values()].sort((a, b) => a.k - b.k)) {
    const at = `$.objects[${k}]`;
    p.units++;
    const id = (o['id'] as string).toLowerCase();
    if (o['revoked'] === true) { bump(p.skipped, 'revoked'); continue; }
    if (o['valid_until'] !== undefined) {
      const until = rfc3339(o['valid_until']);
      if (!until) { rep.invalid('ti.stix-type', `${at}.valid_until`, `expected an RFC 3339 timestamp, found ${typeName(o['valid_until'])}`); continue; }
      if (Date.parse(until) <= now) { bump(p.skipped, 'expired (valid_until passed)'); continue; }
    }
    if (o['valid_from'] !== undefined) {
      const from = rfc3339(o['valid_from']);
      if (!from) { rep.invalid('ti.stix-type', `${at}.valid_from`, `expected an RFC 3339 timestamp, found ${typeName(o['valid_from'])}`); continue; }
      if (Date.parse(from) > now) { bump(p.skipped, 'not yet valid (valid_from in the future)'); continue; }
    }
    // STIX 2.0 indicators have no pattern_type: their pattern is a STIX pattern.
    const ptype = o['pattern_type'] === undefined && o['spec_version'] !== '2.1' ? 'stix' : o['pattern_type'];
    const pattern = o['pattern'];
    if (typeof ptype !== 'string') { rep.invalid('ti.stix-type', `${at}.pattern_type`, `expected a string, found ${typeName(ptype)}`); continue; }
    if (typeof pattern !== 'string') { rep.invalid('ti.stix-type', `${at}.pattern`, `expected a string, found ${typeName(pattern)}`); continue; }
    const creator = typeof o['created_by_ref'] === 'string' ? o['created_by_ref'] : undefined;
    const created = rfc3339(o['created']);
    const modified = rfc3339(o['modified']);
    const name = text(o['name']);
    const labels = tagsOf([...(Array.isArray(o['labels']) ? o['labels'] : []), ...(Array.isArray(o['indicator_types']) ? o['indicator_types'] : [])]);
    const time = modified ?? created;
    const uuid8 = id.slice(11, 19);
    const entry = (): ProvenanceEntry => ({
      format: 'stix', source: (creator && identities.get(creator)) ?? creator ?? 'STIX', ...(creator ? { sourceId: creator } : {}),
      indicator: { id, ...(name ? { name } : {}), ...(created ? { created } : {}), ...(modified ? { modified } : {}) },
      ...(time ? { time } : {}), ...(labels ? { tags: labels } : {}),
      input: { file: p.file, at },
    });
    const order = `s:${id}`;
    if (ptype === 'yara') {
      if (pattern.length > MAX_YARA_BYTES) { rep.invalid('ti.too-long', `${at}.pattern`, `pattern is ${pattern.length} characters; the limit is ${MAX_YARA_BYTES}`); continue; }
      p.yara.push({ text: pattern, prefix: `STIX_I${uuid8}`, order, entry: entry() });
      continue;
    }
    if (ptype !== 'stix') { bump(p.skipped, `pattern_type ${ptype.length > 40 ? ptype.slice(0, 40) + '…' : ptype}`); continue; }
    if (pattern.length > MAX_PATTERN_CHARS) { rep.invalid('ti.too-long', `${at}.pattern`, `pattern is ${pattern.length} characters; the limit is ${MAX_PATTERN_CHARS}`); continue; }
    const r = stixFileHashes(pattern);
    if ('syntax' in r) { rep.invalid('ti.stix-pattern', `${at}.pattern`, `column ${r.column}: ${r.syntax}`); continue; }
    if ('unsupported' in r) { bump(p.skipped, `pattern not a file hash (${r.unsupported})`); continue; }
    if ('invalid' in r) { rep.invalid('ti.bad-hash', `${at}.pattern`, r.invalid); continue; }
    for (const h of r.hashes) {
      const e = entry();
      if (h.filename) e.filename = text(h.filename)!;
      p.hashes.push({ algo: h.algo, hash: h.hash, size: h.size, prefix: `STIX.I${uuid8}`, order, entry: e });
    }
  }
}

// STIX patterning: tokens, syntax tree, and reduction to file hashes.

type Tok =
  | { t: 'punct'; v: string; pos: number }
  | { t: 'op'; v: string; pos: number }
  | { t: 'word'; v: string; pos: number }
  | { t: 'str'; v: string; pos: number }
  | { t: 'typed'; v: string; prefix: string; pos: number }
  | { t: 'num'; v: string; pos: number }
  | { t: 'end'; pos: number };

class PatternSyntax extends Error {
  constructor(message: string, readonly pos: number) { super(message); }
}

function lexPattern(s: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (/\s/.test(c)) { i++; continue; }
    const pos = i;
    if ('[]():,.*'.includes(c)) { out.push({ t: 'punct', v: c, pos }); i++; continue; }
    const two = s.slice(i, i + 2);
    if (two === '!=' || two === '<=' || two === '>=' || two === '==') { out.push({ t: 'op', v: two === '==' ? '=' : two, pos }); i += 2; continue; }
    if (c === '=' || c === '<' || c === '>') { out.push({ t: 'op', v: c, pos }); i++; continue; }
    const quoted = (): string => {
      i++; // opening quote
      let v = '';
      for (;;) {
        if (i >= s.length) throw new PatternSyntax('unterminated string', pos);
        const d = s[i]!;
        if (d === '\\') {
          const e = s[i + 1];
          if (e !== "'" && e !== '\\') throw new PatternSyntax("invalid escape: only \\' and \\\\ are allowed in STIX strings", i);
          v += e; i += 2;
        } else if (d === "'") { i++; return v; }
        else { v += d; i++; }
      }
    };
    if (c === "'") { out.push({ t: 'str', v: quoted(), pos }); continue; }
    if ((c === 't' || c === 'h' || c === 'b') && s[i + 1] === "'") {
      i++;
      out.push({ t: 'typed', prefix: c, v: quoted(), pos });
      continue;
    }
    const num = /^[+-]?\d+(\.\d+)?/.exec(s.slice(i, i + 64));
    if (num && (c !== '+' && c !== '-' || /\d/.test(s[i + 1] ?? ''))) { out.push({ t: 'num', v: num[0], pos }); i += num[0].length; continue; }
    const word = /^[A-Za-z_][A-Za-z0-9_-]*/.exec(s.slice(i, i + 256));
    if (word) { out.push({ t: 'word', v: word[0], pos }); i += word[0].length; continue; }
    throw new PatternSyntax(`unexpected character ${JSON.stringify(c)}`, pos);
  }
  out.push({ t: 'end', pos: s.length });
  return out;
}

interface Comparison { objectType: string; path: string[]; op: string; negated: boolean; value: Tok }
type CompExpr = { k: 'or' | 'and'; parts: CompExpr[] } | { k: 'cmp'; cmp: Comparison };
type ObsExpr = { k: 'or' | 'and' | 'followedby'; parts: ObsExpr[] } | { k: 'obs'; comp: CompExpr; qualified: boolean };

const COMPARISON_OPS = new Set(['=', '!=', '<', '>', '<=', '>=']);
const WORD_OPS = new Set(['IN', 'LIKE', 'MATCHES', 'ISSUBSET', 'ISSUPERSET']);
const MAX_PATTERN_DEPTH = 64;

class PatternParser {
  private i = 0;
  constructor(private readonly toks: Tok[]) {}
  private peek(): Tok { return this.toks[this.i]!; }
  private next(): Tok { return this.toks[this.i++]!; }
  private isWord(v: string): boolean { const t = this.peek(); return t.t === 'word' && t.v === v; }
  private isPunct(v: string): boolean { const t = this.peek(); return t.t === 'punct' && t.v === v; }
  private expectPunct(v: string): void {
    const t = this.peek();
    if (t.t !== 'punct' || t.v !== v) throw new PatternSyntax(`expected '${v}'${t.t === 'end' ? ' before the end of the pattern' : ''}`, t.pos);
    this.i++;
  }
  parse(): ObsExpr {
    const e = this.observations(0);
    const t = this.peek();
    if (t.t !== 'end') throw new PatternSyntax('unexpected text after the pattern', t.pos);
    return e;
  }
  private depth(d: number): void {
    if (d > MAX_PATTERN_DEPTH) throw new PatternSyntax(`pattern nested deeper than ${MAX_PATTERN_DEPTH}`, this.peek().pos);
  }
  private observations(d: number): ObsExpr {
    this.depth(d);
    const parts = [this.obsOr(d)];
    while (this.isWord('FOLLOWEDBY')) { this.i++; parts.push(this.obsOr(d)); }
    return parts.length === 1 ? parts[0]! : { k: 'followedby', parts };
  }
  private obsOr(d: number): ObsExpr {
    const parts = [this.obsAnd(d)];
    while (this.isWord('OR')) { this.i++; parts.push(this.obsAnd(d)); }
    return parts.length === 1 ? parts[0]! : { k: 'or', parts };
  }
  private obsAnd(d: number): ObsExpr {
    const parts = [this.observation(d)];
    while (this.isWord('AND')) { this.i++; parts.push(this.observation(d)); }
    return parts.length === 1 ? parts[0]! : { k: 'and', parts };
  }
  private observation(d: number): ObsExpr {
    let e: ObsExpr;
    if (this.isPunct('[')) {
      this.i++;
      const comp = this.compOr(d + 1);
      this.expectPunct(']');
      e = { k: 'obs', comp, qualified: false };
    } else if (this.isPunct('(')) {
      this.i++;
      e = this.observations(d + 1);
      this.expectPunct(')');
    } else {
      const t = this.peek();
      throw new PatternSyntax(`expected '[' to start an observation expression${t.t === 'end' ? ', found the end of the pattern' : ''}`, t.pos);
    }
    // Qualifiers: WITHIN n SECONDS, REPEATS n TIMES, START t'…' STOP t'…'.
    for (;;) {
      if (this.isWord('WITHIN')) { this.i++; this.number(); this.word('SECONDS'); }
      else if (this.isWord('REPEATS')) { this.i++; this.number(); this.word('TIMES'); }
      else if (this.isWord('START')) { this.i++; this.timestamp(); this.word('STOP'); this.timestamp(); }
      else break;
      e = { k: 'obs', comp: e.k === 'obs' ? e.comp : { k: 'and', parts: [] }, qualified: true };
    }
    return e;
  }
  private number(): void { const t = this.next(); if (t.t !== 'num') throw new PatternSyntax('expected a number', t.pos); }
  private timestamp(): void { const t = this.next(); if (t.t !== 'typed' || t.prefix !== 't') throw new PatternSyntax("expected a timestamp t'…'", t.pos); }
  private word(v: string): void { const t = this.next(); if (t.t !== 'word' || t.v !== v) throw new PatternSyntax(`expected ${v}`, t.pos); }
  private compOr(d: number): CompExpr {
    this.depth(d);
    const parts = [this.compAnd(d)];
    while (this.isWord('OR')) { this.i++; parts.push(this.compAnd(d)); }
    return parts.length === 1 ? parts[0]! : { k: 'or', parts };
  }
  private compAnd(d: number): CompExpr {
    const parts = [this.propTest(d)];
    while (this.isWord('AND')) { this.i++; parts.push(this.propTest(d)); }
    return parts.length === 1 ? parts[0]! : { k: 'and', parts };
  }
  private propTest(d: number): CompExpr {
    if (this.isPunct('(')) {
      this.i++;
      const e = this.compOr(d + 1);
      this.expectPunct(')');
      return e;
    }
    if (this.isWord('EXISTS')) {
      this.i++;
      const { objectType, path } = this.objectPath();
      return { k: 'cmp', cmp: { objectType, path, op: 'EXISTS', negated: false, value: { t: 'end', pos: 0 } } };
    }
    const { objectType, path } = this.objectPath();
    let negated = false;
    if (this.isWord('NOT')) { this.i++; negated = true; }
    const t = this.next();
    let op: string;
    if (t.t === 'op' && COMPARISON_OPS.has(t.v)) op = t.v;
    else if (t.t === 'word' && WORD_OPS.has(t.v)) op = t.v;
    else throw new PatternSyntax('expected a comparison operator (=, !=, <, >, <=, >=, IN, LIKE, MATCHES, ISSUBSET, ISSUPERSET)', t.pos);
    let value: Tok;
    if (op === 'IN') {
      const open = this.peek();
      this.expectPunct('(');
      for (;;) {
        this.literal();
        if (this.isPunct(',')) { this.i++; continue; }
        this.expectPunct(')');
        break;
      }
      value = { t: 'punct', v: '(', pos: open.pos };
    } else value = this.literal();
    return { k: 'cmp', cmp: { objectType, path, op, negated, value } };
  }
  private literal(): Tok {
    const t = this.next();
    if (t.t === 'str' || t.t === 'typed' || t.t === 'num') return t;
    if (t.t === 'word' && (t.v === 'true' || t.v === 'false')) return t;
    throw new PatternSyntax('expected a literal (a quoted string, a number, true or false)', t.pos);
  }
  private objectPath(): { objectType: string; path: string[] } {
    const t = this.next();
    if (t.t !== 'word') throw new PatternSyntax('expected an object path such as file:hashes.MD5', t.pos);
    const colon = this.peek();
    if (colon.t !== 'punct' || colon.v !== ':') throw new PatternSyntax(`expected ':' after the object type ${t.v}`, colon.pos);
    this.i++;
    const path: string[] = [this.pathPart()];
    for (;;) {
      if (this.isPunct('.')) { this.i++; path.push(this.pathPart()); }
      else if (this.isPunct('[')) {
        this.i++;
        const idx = this.next();
        if (idx.t !== 'num' && !(idx.t === 'punct' && idx.v === '*')) throw new PatternSyntax("expected a list index or '*'", idx.pos);
        this.expectPunct(']');
        path.push('[]');
      } else break;
    }
    return { objectType: t.v, path };
  }
  private pathPart(): string {
    const t = this.next();
    if (t.t === 'word') return t.v;
    if (t.t === 'str') return t.v;
    throw new PatternSyntax('expected a property name', t.pos);
  }
}

/** STIX hash algorithm names (hashing-algorithm-ov, and the common spellings without a dash). */
function stixAlgo(name: string): HashAlgo | undefined {
  const n = name.toUpperCase().replace(/[-_]/g, '');
  return n === 'MD5' ? 'md5' : n === 'SHA1' ? 'sha1' : n === 'SHA256' ? 'sha256' : undefined;
}

const MAX_DNF_TERMS = 256;
const ALGO_STRENGTH: Readonly<Record<HashAlgo, number>> = { md5: 1, sha1: 2, sha256: 3 };

export interface StixFileHash { algo: HashAlgo; hash: string; size: number | null; filename?: string }

/**
 * The file hashes a STIX pattern matches: `[file:hashes.'SHA-256' = '…']`, comparisons joined by
 * OR (within and between observations), and AND with `file:size = n` (the size) or
 * `file:name = '…'` (kept as the file name). A conjunction with several hashes keeps the
 * strongest. Anything else (another object type or property, another operator, NOT, observation
 * AND, FOLLOWEDBY, qualifiers) makes the pattern unsupported.
 */
export function stixFileHashes(pattern: string): { hashes: StixFileHash[] } | { syntax: string; column: number } | { unsupported: string } | { invalid: string } {
  let tree: ObsExpr;
  try {
    tree = new PatternParser(lexPattern(pattern)).parse();
  } catch (e) {
    if (e instanceof PatternSyntax) return { syntax: e.message, column: e.pos + 1 };
    throw e;
  }
  const conj: Comparison[][] = [];
  const obs = (e: ObsExpr): string | undefined => {
    if (e.k === 'obs') {
      if (e.qualified) return 'observation qualifiers';
      const d = dnf(e.comp);
      if (typeof d === 'string') return d;
      conj.push(...d);
      return conj.length > MAX_DNF_TERMS ? `more than ${MAX_DNF_TERMS} alternatives` : undefined;
    }
    if (e.k !== 'or') return e.k === 'and' ? 'AND between observations' : 'FOLLOWEDBY';
    for (const part of e.parts) { const r = obs(part); if (r) return r; }
    return undefined;
  };
  const dnf = (e: CompExpr): Comparison[][] | string => {
    if (e.k === 'cmp') return [[e.cmp]];
    let acc: Comparison[][] = e.k === 'or' ? [] : [[]];
    for (const part of e.parts) {
      const d = dnf(part);
      if (typeof d === 'string') return d;
      if (e.k === 'or') acc.push(...d);
      else acc = acc.flatMap((a) => d.map((b) => [...a, ...b]));
      if (acc.length > MAX_DNF_TERMS) return `more than ${MAX_DNF_TERMS} alternatives`;
    }
    return acc;
  };
  const bad = obs(tree);
  if (bad) return { unsupported: bad };
  const hashes: StixFileHash[] = [];
  for (const terms of conj) {
    let best: { algo: HashAlgo; hash: string } | undefined;
    let size: number | null = null;
    let filename: string | undefined;
    for (const c of terms) {
      if (c.objectType !== 'file') return { unsupported: `${c.objectType} observable` };
      const where = `file:${c.path.join('.').replace(/\.\[\]/g, '[*]')}`;
      if (c.negated || c.op !== '=') return { unsupported: `${c.negated ? 'NOT ' : ''}${c.op} on ${where}` };
      if (c.path[0] === 'hashes' && c.path.length === 2) {
        const algo = stixAlgo(c.path[1]!);
        if (!algo) return { unsupported: `hash algorithm ${c.path[1]}` };
        if (c.value.t !== 'str') return { invalid: `${where} must be compared with a quoted string` };
        const h = checkHash(algo, c.value.v);
        if ('problem' in h) return { invalid: `${where}: ${h.problem}` };
        if (!best || ALGO_STRENGTH[algo] > ALGO_STRENGTH[best.algo]) best = { algo, hash: h.hash };
      } else if (c.path.length === 1 && c.path[0] === 'size') {
        const n = c.value.t === 'num' && /^\d{1,10}$/.test(c.value.v) ? Number(c.value.v) : NaN;
        if (!(n >= 1 && n <= 0xfffffffe)) return { invalid: `${where} must be a size from 1 to ${0xfffffffe}` };
        if (size !== null && size !== n) return { unsupported: 'two different file sizes' };
        size = n;
      } else if (c.path.length === 1 && c.path[0] === 'name' && c.value.t === 'str') {
        filename = c.value.v;
      } else return { unsupported: `property ${where}` };
    }
    if (!best) return { unsupported: 'no file hash' };
    hashes.push({ ...best, size, ...(filename !== undefined ? { filename } : {}) });
  }
  return { hashes };
}

// ───────────────────────────── hash lists and MalwareBazaar CSV ─────────────────────────────

const ALGO_BY_LEN: Readonly<Record<number, HashAlgo>> = { 32: 'md5', 40: 'sha1', 64: 'sha256' };

/** CSV fields of one line (RFC 4180 quoting, blanks around fields allowed); null when a quote is left open. */
function csvFields(line: string): string[] | null {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    while (line[i] === ' ' || line[i] === '\t') i++;
    let v = '';
    if (line[i] === '"') {
      i++;
      for (;;) {
        if (i >= line.length) return null;
        if (line[i] === '"') {
          if (line[i + 1] === '"') { v += '"'; i += 2; continue; }
          i++;
          break;
        }
        v += line[i]; i++;
      }
      while (line[i] === ' ' || line[i] === '\t') i++;
    } else {
      const c = line.indexOf(',', i);
      v = (c < 0 ? line.slice(i) : line.slice(i, c)).trim();
      i = c < 0 ? line.length : c;
    }
    out.push(v);
    if (i >= line.length) return out;
    if (line[i] !== ',') return null;
    i++;
  }
}

function parseTiText(bytes: Buffer, p: ParsedInput, opts: ParseOptions): ParsedInput {
  const rep = new Reporter(p);
  p.sha256 = createHash('sha256').update(bytes).digest('hex');
  const nul = bytes.indexOf(0);
  if (nul >= 0) {
    rep.fatal('ti.unknown-format', `byte ${nul}`, 'not a recognised format: binary data (a NUL byte); expected JSON (MISP, STIX) or a text hash list');
    return p;
  }
  const lines = bytes.toString('utf8').replace(/^\uFEFF/, '').split(/\r?\n/);
  const importedAt = isoSeconds(opts.now);
  // MalwareBazaar's CSV: a header line (commented in their exports) naming its columns.
  let columns: Map<string, number> | undefined;
  let firstData = -1;
  for (let k = 0; k < lines.length; k++) {
    const l = lines[k]!.trim();
    if (l === '') continue;
    const body = l.startsWith('#') ? l.replace(/^#+\s*/, '') : l;
    if (body.includes('sha256_hash') && body.includes('first_seen_utc')) {
      const f = csvFields(body);
      if (f) columns = new Map(f.map((name, idx) => [name.trim(), idx]));
      break;
    }
    if (!l.startsWith('#')) { firstData = k; break; }
  }
  if (columns) {
    p.format = 'malwarebazaar-csv';
    parseBazaarCsv(lines, columns, p, rep, importedAt);
    return p;
  }
  const first = firstData >= 0 ? lines[firstData]!.trim() : '';
  const firstToken = first.split(/[\s,;]/, 1)[0]!;
  if (firstData >= 0 && !(ALGO_BY_LEN[firstToken.length] && /^[0-9a-fA-F]+$/.test(firstToken))) {
    rep.fatal('ti.unknown-format', `line ${firstData + 1}`, `not a recognised format: expected JSON (MISP, STIX), a hash list (one MD5, SHA-1 or SHA-256 per line) or a MalwareBazaar CSV export; line ${firstData + 1} starts ${JSON.stringify(first.slice(0, 40))}`);
    return p;
  }
  p.format = 'hashlist';
  for (let k = 0; k < lines.length; k++) {
    const raw = lines[k]!;
    const l = raw.trim();
    if (l === '' || l.startsWith('#')) continue;
    p.units++;
    const at = `line ${k + 1}`;
    const token = l.split(/[\s,;]/, 1)[0]!;
    const algo = ALGO_BY_LEN[token.length];
    if (!algo) {
      rep.invalid('ti.bad-hash', at, `expected an MD5, SHA-1 or SHA-256 hash (32, 40 or 64 hex digits), found ${JSON.stringify(token.length > 80 ? token.slice(0, 80) + '…' : token)} (${token.length} characters)`);
      continue;
    }
    const h = checkHash(algo, token);
    if ('problem' in h) { rep.invalid('ti.bad-hash', at, h.problem); continue; }
    p.hashes.push({
      algo, hash: h.hash, size: null, prefix: 'HashList', order: `l:${p.file}:${String(k + 1).padStart(10, '0')}`,
      entry: { format: 'hashlist', source: p.file, time: importedAt, input: { file: p.file, at } },
    });
  }
  return p;
}

function parseBazaarCsv(lines: string[], columns: Map<string, number>, p: ParsedInput, rep: Reporter, importedAt: string): void {
  const col = (f: string[], name: string): string | undefined => {
    const idx = columns.get(name);
    const v = idx === undefined ? undefined : f[idx];
    return v === undefined || v === '' || v === 'n/a' ? undefined : v;
  };
  for (let k = 0; k < lines.length; k++) {
    const l = lines[k]!.trim();
    if (l === '' || l.startsWith('#')) continue;
    const at = `line ${k + 1}`;
    if (l.length > MAX_VALUE_CHARS * 4) { rep.invalid('ti.too-long', at, `line is ${l.length} characters; the limit is ${MAX_VALUE_CHARS * 4}`); continue; }
    const f = csvFields(l);
    if (!f) { rep.invalid('ti.csv-syntax', at, 'unbalanced quotes or a character after a closing quote'); continue; }
    if (f.includes('sha256_hash') && f.includes('first_seen_utc')) continue; // an uncommented header
    p.units++;
    // One signature per sample: its strongest hash.
    let chosen: { algo: HashAlgo; hash: string } | undefined;
    for (const [algo, name] of [['sha256', 'sha256_hash'], ['sha1', 'sha1_hash'], ['md5', 'md5_hash']] as const) {
      const v = col(f, name);
      if (v === undefined) continue;
      const h = checkHash(algo, v);
      if ('problem' in h) { rep.invalid('ti.bad-hash', `${at}, column ${name}`, h.problem); chosen = undefined; break; }
      chosen = { algo, hash: h.hash };
      break;
    }
    if (!chosen) {
      if (!['sha256_hash', 'sha1_hash', 'md5_hash'].some((n) => col(f, n) !== undefined)) rep.invalid('ti.bad-hash', at, 'no sha256_hash, sha1_hash or md5_hash value');
      continue;
    }
    const seen = col(f, 'first_seen_utc');
    const seenIso = seen && /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/.test(seen) ? `${seen.replace(' ', 'T')}Z` : undefined;
    const filename = text(col(f, 'file_name'));
    const malware = text(col(f, 'signature'));
    const reporter = text(col(f, 'reporter'));
    p.hashes.push({
      algo: chosen.algo, hash: chosen.hash, size: null, prefix: 'MalwareBazaar', order: `l:${p.file}:${String(k + 1).padStart(10, '0')}`,
      entry: {
        format: 'malwarebazaar-csv', source: reporter ? `MalwareBazaar (reporter ${reporter})` : 'MalwareBazaar',
        time: seenIso ?? importedAt, ...(filename ? { filename } : {}), ...(malware ? { malware } : {}),
        input: { file: p.file, at },
      },
    });
  }
}

// ───────────────────────────── YARA ─────────────────────────────

/** YARA identifiers are at most 128 characters. */
const MAX_YARA_IDENT = 128;

/**
 * Renames the rules of one YARA source `prefix_<rule>` (declarations, and references to them in
 * the source's conditions and rule sets) and compiles the result with the project's compiler.
 * Refused: includes (nothing is read from disk), global rules (they would gate every other rule
 * of the file), sources without rules, and anything that does not compile.
 */
export function prepareYara(source: string, prefix: string, file: string): { text: string; rules: string[] } | { reason: string } {
  const bytes = Buffer.from(source, 'utf8');
  const parsed = parseYara(bytes, file);
  const err = parsed.diagnostics.find((d) => d.severity === 'error');
  if (err) return { reason: `does not parse: ${err.location ? `line ${err.location.line}: ` : ''}${err.message}` };
  const ast = parsed.ast;
  if (ast.includes.length > 0) return { reason: 'include is not allowed in imported rules' };
  if (ast.rules.length === 0) return { reason: 'no rules' };
  const global = ast.rules.find((r) => r.isGlobal);
  if (global) return { reason: `global rule ${global.name.name}: it would apply to every other rule; not imported` };
  const declared = new Set(ast.rules.map((r) => r.name.name));
  const edits: { span: Span; name: string }[] = [];
  for (const r of ast.rules) {
    const renamed = `${prefix}_${r.name.name}`;
    if (renamed.length > MAX_YARA_IDENT) return { reason: `rule name ${prefix}_${r.name.name} would be longer than ${MAX_YARA_IDENT} characters` };
    edits.push({ span: r.name.span, name: renamed });
    collectRuleRefs(r, declared, prefix, bytes, edits);
  }
  edits.sort((a, b) => a.span.start - b.span.start);
  const parts: Buffer[] = [];
  let pos = 0;
  for (const e of edits) {
    if (e.span.start < pos) continue;
    parts.push(bytes.subarray(pos, e.span.start), Buffer.from(e.name, 'utf8'));
    pos = e.span.end;
  }
  parts.push(bytes.subarray(pos));
  const out = Buffer.concat(parts).toString('utf8');
  const c = compileYara([{ file, text: out }]);
  const cerr = c.diagnostics.find((d) => d.severity === 'error');
  if (!c.compiled || cerr) return { reason: `does not compile: ${cerr ? `${cerr.location ? `line ${cerr.location.line}: ` : ''}${cerr.message}` : 'unknown error'}` };
  return { text: out, rules: ast.rules.filter((r) => !r.isPrivate).map((r) => `${prefix}_${r.name.name}`) };
}

/** References to the source's own rules in a rule's condition: identifiers and rule-set items. */
function collectRuleRefs(rule: Rule, declared: Set<string>, prefix: string, bytes: Buffer, edits: { span: Span; name: string }[]): void {
  const stack: unknown[] = [rule.condition];
  while (stack.length > 0) {
    const n = stack.pop();
    if (Array.isArray(n)) { for (const x of n) stack.push(x); continue; }
    if (typeof n !== 'object' || n === null || n instanceof Uint8Array) continue;
    const o = n as Record<string, unknown>;
    if (o['kind'] === 'ident' && typeof o['name'] === 'string' && declared.has(o['name'])) {
      edits.push({ span: o['span'] as Span, name: `${prefix}_${o['name']}` });
    } else if (o['kind'] === 'rules' && Array.isArray(o['items'])) {
      for (const it of o['items'] as { span: Span; name: string; wildcard: boolean }[]) {
        const len = Buffer.byteLength(it.name, 'utf8');
        // Only where the item's text is its name (a wildcard keeps its '*' after the new prefix).
        if (bytes.subarray(it.span.start, it.span.start + len).toString('utf8') === it.name) {
          edits.push({ span: { start: it.span.start, end: it.span.start + len }, name: `${prefix}_${it.name}` });
        }
      }
    }
    for (const [k, v] of Object.entries(o)) if (k !== 'span' && typeof v === 'object') stack.push(v);
  }
}

// ───────────────────────────── building a source ─────────────────────────────

export const PROVENANCE_FORMAT = 'vigil-ti-provenance';
export const PROVENANCE_SUFFIX = '.provenance.json';

export interface SignatureProvenance {
  kind: 'hash' | 'yara';
  algo?: HashAlgo;
  hash?: string;
  /** File sizes of the hash signature; absent: any size. */
  sizes?: number[];
  /** The YARA rule as written in the `.yar` file. */
  rule?: string;
  entries: ProvenanceEntry[];
}

export interface BuiltSource {
  name: string;
  /** Database files: name → content. */
  files: Map<string, string>;
  /** The sidecar's text. */
  provenance: string;
  counts: { md5: number; sha1: number; sha256: number; yaraRules: number; hashLines: number; merged: number };
  /** YARA sources refused (reason and where they came from). */
  problems: ImportProblem[];
}

function entryKey(e: ProvenanceEntry): string {
  return JSON.stringify(e);
}

function mergeEntries(list: { order: string; entry: ProvenanceEntry }[]): ProvenanceEntry[] {
  if (list.length === 1) return [list[0]!.entry];
  const sorted = [...list].sort((a, b) => cmp(a.order, b.order) || cmp(entryKey(a.entry), entryKey(b.entry)));
  const seen = new Set<string>();
  const out: ProvenanceEntry[] = [];
  for (const x of sorted) {
    const k = entryKey(x.entry);
    if (!seen.has(k)) { seen.add(k); out.push(x.entry); }
  }
  return out;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * One source's database files and sidecar from its parsed inputs. Output is deterministic: the
 * same inputs (and import time) give the same bytes, whatever the order of events or files.
 */
export function buildSource(name: string, inputs: readonly ParsedInput[], importedAt: Date): BuiltSource {
  const problems: ImportProblem[] = [];
  // Hashes: one signature per (algorithm, hash).
  const byHash = new Map<string, HashItem[]>();
  let occurrences = 0;
  for (const p of inputs) for (const h of p.hashes) {
    occurrences++;
    const k = `${h.algo}:${h.hash}`;
    const l = byHash.get(k);
    if (l) l.push(h); else byHash.set(k, [h]);
  }
  const groups = [...byHash.values()].map((items) => {
    const first = items.reduce((a, b) => (cmp(b.order, a.order) < 0 ? b : a));
    return { items, algo: first.algo, hash: first.hash, prefix: first.prefix, short: `${first.prefix}.${ALGO_LABEL[first.algo]}.${first.hash.slice(0, 16)}` };
  });
  const shortCount = new Map<string, number>();
  for (const g of groups) shortCount.set(g.short, (shortCount.get(g.short) ?? 0) + 1);
  const sigs = new Map<string, SignatureProvenance>();
  const hdb: string[] = [];
  const hsb: string[] = [];
  const counts = { md5: 0, sha1: 0, sha256: 0, yaraRules: 0, hashLines: 0, merged: occurrences - groups.length };
  for (const g of groups) {
    const sig = shortCount.get(g.short)! > 1 ? `${g.prefix}.${ALGO_LABEL[g.algo]}.${g.hash}` : g.short;
    const anySize = g.items.some((i) => i.size === null);
    const sizes = anySize ? [] : [...new Set(g.items.map((i) => i.size!))].sort((a, b) => a - b);
    const lines = anySize ? [`${g.hash}:*:${sig}:73`] : sizes.map((s) => `${g.hash}:${s}:${sig}`);
    (g.algo === 'md5' ? hdb : hsb).push(...lines);
    counts[g.algo]++;
    counts.hashLines += lines.length;
    sigs.set(sig, { kind: 'hash', algo: g.algo, hash: g.hash, ...(anySize ? {} : { sizes }), entries: mergeEntries(g.items) });
  }
  // YARA: one rule set per distinct source text, renamed after its first occurrence.
  const byText = new Map<string, YaraItem[]>();
  for (const p of inputs) for (const y of p.yara) {
    const k = y.text.replace(/\r\n/g, '\n').trim();
    const l = byText.get(k);
    if (l) l.push(y); else byText.set(k, [y]);
  }
  const yaraSets = [...byText.entries()].map(([t, items]) => ({ text: t, items, first: items.reduce((a, b) => (cmp(b.order, a.order) < 0 ? b : a)) }));
  yaraSets.sort((a, b) => cmp(a.first.order, b.first.order) || cmp(a.text, b.text));
  const taken = new Set<string>();
  const yaraTexts: string[] = [];
  for (const set of yaraSets) {
    const where = set.first.entry.input;
    const r = prepareYara(set.text, set.first.prefix, `${where.file} ${where.at}`);
    if ('reason' in r) {
      problems.push({ severity: 'warning', code: 'ti.yara-refused', file: where.file, at: where.at, message: `YARA rule not imported: ${r.reason}` });
      continue;
    }
    const clash = r.rules.find((n) => taken.has(n));
    if (clash) {
      problems.push({ severity: 'warning', code: 'ti.yara-refused', file: where.file, at: where.at, message: `YARA rule not imported: rule name ${clash} is already used by another rule of this source` });
      continue;
    }
    for (const n of r.rules) {
      taken.add(n);
      sigs.set(`YARA.${n}`, { kind: 'yara', rule: n, entries: mergeEntries(set.items) });
    }
    counts.yaraRules += r.rules.length;
    yaraTexts.push(r.text.trimEnd() + '\n');
  }
  const files = new Map<string, string>();
  const sortLines = (l: string[]): string => l
    .map((line) => ({ line, name: line.split(':')[2]! }))
    .sort((a, b) => cmp(a.name, b.name) || cmp(a.line, b.line))
    .map((x) => x.line).join('\n') + '\n';
  if (hdb.length > 0) files.set(`${name}.hdb`, sortLines(hdb));
  if (hsb.length > 0) files.set(`${name}.hsb`, sortLines(hsb));
  if (yaraTexts.length > 0) {
    const yar = `// vigil db import: source ${name}; provenance in ${name}${PROVENANCE_SUFFIX}\n\n${yaraTexts.join('\n')}`;
    // Each rule set compiled alone; the file must compile as a whole too, as the loader reads it.
    const whole = compileYara([{ file: `${name}.yar`, text: yar }]);
    const werr = whole.diagnostics.find((d) => d.severity === 'error');
    if (whole.compiled && !werr) files.set(`${name}.yar`, yar);
    else {
      problems.push({ severity: 'warning', code: 'ti.yara-refused', file: `${name}.yar`, at: werr?.location ? `line ${werr.location.line}` : '', message: `the YARA rules do not compile together (${werr?.message ?? 'unknown error'}); no YARA rules imported` });
      for (const k of [...sigs.keys()]) if (sigs.get(k)!.kind === 'yara') sigs.delete(k);
      counts.yaraRules = 0;
    }
  }
  const inputsMeta = inputs.map((p) => ({ file: p.file, format: p.format, ...(p.sha256 ? { sha256: p.sha256 } : {}) }))
    .sort((a, b) => cmp(a.file, b.file) || cmp(a.sha256 ?? '', b.sha256 ?? ''));
  return { name, files, provenance: renderSidecar(name, isoSeconds(importedAt), inputsMeta, [...files.keys()].sort(), sigs), counts, problems };
}

/** The sidecar: fixed key order, one signature per line (diffable, and streamable by line). */
function renderSidecar(name: string, importedAt: string, inputs: object[], files: string[], sigs: Map<string, SignatureProvenance>): string {
  const names = [...sigs.keys()].sort(cmp);
  const head = `{"format":${JSON.stringify(PROVENANCE_FORMAT)},"version":1,"source":${JSON.stringify(name)},"importedAt":${JSON.stringify(importedAt)},\n`
    + `"inputs":${JSON.stringify(inputs)},\n"files":${JSON.stringify(files)},\n"signatures":{`;
  const body = names.map((n) => `\n${JSON.stringify(n)}:${JSON.stringify(sigs.get(n))}`).join(',');
  return `${head}${body}${names.length > 0 ? '\n' : ''}}}\n`;
}

// ───────────────────────────── writing ─────────────────────────────

/** A source name for an input: its file name without the extension, reduced to [A-Za-z0-9_-]. */
export function sourceNameOf(path: string): string {
  let b = basename(path.replace(/[\\/]+$/, ''));
  if (b === 'manifest.json') b = basename(dirname(path));
  b = b.replace(/\.(json|txt|csv|stix|misp)$/i, '');
  const s = b.replace(/[^A-Za-z0-9_-]+/g, '_').replace(/^[_-]+/, '').slice(0, 64);
  return s.length > 0 ? s : 'import';
}

export function validSourceName(name: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/.test(name);
}

const OUTPUT_EXTS = ['.hdb', '.hsb', '.yar'];

export class ImportWriteError extends Error {}

/**
 * Writes a built source into `dir` (created 0755): each file through a temporary sibling and a
 * rename, the sidecar last; then removes the files of an earlier import of this source that this
 * one no longer has. Refuses to replace database files that no import of ours wrote (no sidecar).
 */
export function writeSource(dir: string, built: BuiltSource): string[] {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const sidecar = join(dir, `${built.name}${PROVENANCE_SUFFIX}`);
  const ours = existsSync(sidecar);
  if (!ours) {
    const foreign = OUTPUT_EXTS.map((e) => `${built.name}${e}`).filter((f) => existsSync(join(dir, f)));
    if (foreign.length > 0) throw new ImportWriteError(`${join(dir, foreign[0]!)} exists and was not written by vigil db import (no ${basename(sidecar)}); choose another --name or --out`);
  } else if (!lstatSync(sidecar).isFile()) {
    throw new ImportWriteError(`${sidecar} is not a regular file`);
  }
  const written: string[] = [];
  for (const [f, data] of [...built.files.entries()].sort((a, b) => cmp(a[0], b[0]))) {
    writeFileAtomic(join(dir, f), data);
    written.push(join(dir, f));
  }
  writeFileAtomic(sidecar, built.provenance);
  written.push(sidecar);
  // Files of this source that this import does not have any more (only our own names).
  for (const e of OUTPUT_EXTS) {
    const f = `${built.name}${e}`;
    if (!built.files.has(f) && ours) rmSync(join(dir, f), { force: true });
  }
  return written;
}

// ───────────────────────────── the whole import ─────────────────────────────

export interface ImportOptions {
  /** Output directory. */
  out: string;
  /** One source for all inputs; by default each input is a source named after its file. */
  name?: string;
  now: Date;
}

export interface SourceReport {
  name: string;
  inputs: ParsedInput[];
  written: string[];
  counts: BuiltSource['counts'];
  /** Set when the source was not written (an input could not be read, or writing failed). */
  error?: string;
}

export interface ImportReport {
  sources: SourceReport[];
  /** True when every input was read and every source written. */
  ok: boolean;
}

export function importThreatIntel(paths: readonly string[], opts: ImportOptions): ImportReport {
  if (opts.name !== undefined && !validSourceName(opts.name)) {
    throw new ImportWriteError(`invalid source name ${JSON.stringify(opts.name)}: use 1 to 64 letters, digits, '_' or '-', starting with a letter or digit`);
  }
  const bySource = new Map<string, ParsedInput[]>();
  for (const path of paths) {
    const p = parseTiInput(path, { now: opts.now });
    const name = opts.name ?? sourceNameOf(path);
    const l = bySource.get(name);
    if (l) l.push(p); else bySource.set(name, [p]);
  }
  const sources: SourceReport[] = [];
  let ok = true;
  for (const [name, inputs] of bySource) {
    const built = buildSource(name, inputs.filter((p) => p.ok), opts.now);
    for (const q of built.problems) {
      const target = inputs.find((p) => p.file === q.file) ?? inputs[0]!;
      if (target.problems.length < MAX_PROBLEMS) target.problems.push(q);
      bump(target.skipped, 'YARA rule refused');
    }
    const report: SourceReport = { name, inputs, written: [], counts: built.counts };
    if (inputs.some((p) => !p.ok)) {
      // A source is written whole or not at all: an unreadable input leaves the old files alone.
      report.error = `not written: ${inputs.filter((p) => !p.ok).map((p) => p.file).join(', ')} could not be imported`;
      ok = false;
    } else {
      try {
        report.written = writeSource(opts.out, built);
      } catch (e) {
        report.error = `not written: ${e instanceof Error ? e.message : String(e)}`;
        ok = false;
      }
    }
    sources.push(report);
  }
  return { sources, ok };
}

/** Lists the entries of a directory that are provenance sidecars. */
export function sidecarsIn(dir: string): string[] {
  try {
    return readdirSync(dir).filter((n) => n.endsWith(PROVENANCE_SUFFIX)).sort().map((n) => join(dir, n));
  } catch {
    return [];
  }
}
