/**
 * The MISP ransomware galaxy (`clusters/ransomware.json`, CC0/BSD-2) → the knowledge base.
 *
 * In: the parsed galaxy JSON (untrusted: any shape), options (`facts`: merge the added facts of
 * `facts.ts`, default true; `at`: the build time). Out: the knowledge base (families sorted by id)
 * and a report: how many families, how many extension values were kept as they were, normalised,
 * or dropped, how many note names and note texts were taken, every value that could not be
 * normalised with its JSON path, the misspelt keys that were read under their right name.
 * Why: the galaxy is the one open, redistributable list of families with extensions, note names
 * and note texts, but it is written by hand: extensions such as `RANDOM 3 LETTERS ARE ADDED`,
 * `example: file.jpg.locked`, `.id-<ID>.[<email>].java`, regexes, several values in one string;
 * keys spelt `ransomenotes`; decryptor links mixed with news. Identification needs them regular.
 *
 * Bounds: at most MAX_ENTRIES entries, MAX_VALUES values per key, MAX_VALUE_CHARS per string.
 */
import type { Decryptor, ExtensionPattern, Family, KnowledgeBase } from '../types.js';
import { normaliseNote, noteSignature } from './minhash.js';
import { KB_FORMAT, slugOf, validateKnowledgeBase } from './store.js';
import { unsafeRegexReason } from './patterns.js';
import { FACTS, type FamilyFacts } from './facts.js';

export const MAX_ENTRIES = 20_000;
export const MAX_VALUES = 2_000;
export const MAX_VALUE_CHARS = 64 * 1024;
/** A note text is hashed only when its normalised form has at least this many words. */
export const MIN_NOTE_WORDS = 8;
/** References kept per family (text pages before images and tweets); the galaxy entry, named in `sources`, has them all. */
export const MAX_REFS = 8;
/** The shipped knowledge base: built from the misp-galaxy commit below, with a fixed build time so that a rebuild gives the same bytes. */
export const SHIPPED_BUILD = { commit: '9434ace4', at: '2026-11-29T00:00:00.000Z' } as const;

export interface ImportProblem {
  at: string;
  message: string;
}

export interface ImportReport {
  families: number;
  extensions: { kept: number; normalised: number; dropped: number };
  noteNames: number;
  notes: number;
  problems: ImportProblem[];
  /** Misspelt keys read under their right name, e.g. `ransomenotes` → `ransomnotes`. */
  renamedKeys: { at: string; key: string; as: string }[];
  /** Galaxy entries merged into a family of the added facts. */
  merged: { family: string; entries: string[] }[];
  decryptors: number;
  /** Families with at least one identifying signal (extension, note name, note text, contact, marker). */
  identifiable: number;
  /** Extensions read from descriptions of entries that have no extensions key. */
  fromDescriptions: number;
}

export interface ImportOptions {
  facts?: boolean;
  /** The build time recorded in `built.at` (default: now). */
  at?: Date;
  /** Recorded in `built.from` (default: `MISP galaxy <type>` and, with facts, `+ vigil facts`). */
  from?: string;
}

// ---------------------------------------------------------------- helpers

const isRec = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function decodeEntities(s: string): string {
  return s.replace(/&(lt|gt|amp|quot|apos|#\d{1,6});/gi, (_m, e: string) => {
    const l = e.toLowerCase();
    if (l.startsWith('#')) { const cp = Number(l.slice(1)); return cp > 0 && cp <= 0x10ffff ? String.fromCodePoint(cp) : ' '; }
    return ({ lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" } as Record<string, string>)[l] ?? '';
  });
}

function escapeRe(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');
}

const EMAIL_RE = /[a-z0-9._%+-]{1,64}@[a-z0-9-]{1,63}(?:\.[a-z0-9-]{1,63}){0,8}\.[a-z]{2,24}/gi;
const ONION_RE = /\b([a-z2-7]{56}|[a-z2-7]{16})\.onion\b/gi;

export function extractEmails(text: string): string[] {
  return [...new Set([...text.matchAll(EMAIL_RE)].map((m) => m[0].toLowerCase().replace(/^[._%+-]+/, '')))];
}

export function extractOnions(text: string): string[] {
  return [...new Set([...text.matchAll(ONION_RE)].map((m) => `${(m[1] as string).toLowerCase()}.onion`))];
}

// ---------------------------------------------------------------- extensions

export type ExtensionOutcome =
  | { status: 'kept' | 'normalised'; patterns: ExtensionPattern[]; emails: string[] }
  | { status: 'dropped'; reason: string };

const NUMBER_WORDS: Readonly<Record<string, number>> = { one: 1, two: 2, three: 3, four: 4, five: 5, six: 6, seven: 7, eight: 8, nine: 9, ten: 10 };

/** A literal piece, or a placeholder of the template language. */
type Tok = { lit: string } | { ph: 'ID' | 'EMAIL' | 'EXT' | 'ORIGINAL' } | { ph: 'RANDOM'; n?: number } | { re: string };

/**
 * One galaxy extension value → patterns. Handles: descriptions of random extensions, examples,
 * several values in one string, placeholders in many spellings, concrete victim ids in examples,
 * regex-like values, prefixes, underscores and dashes instead of a dot, quotes, case.
 */
export function normaliseExtension(raw: string): ExtensionOutcome {
  let s = decodeEntities(raw.slice(0, 4096)).replace(/[“”„"`'‘’]/g, '').replace(/\s+/g, ' ').trim();
  if (s.length === 0) return { status: 'dropped', reason: 'empty' };
  if (/^\.[a-z0-9]+$/i.test(s) && s.length <= 64) return { status: 'kept', patterns: [{ kind: 'suffix', value: s.toLowerCase() }], emails: [] };
  // Descriptions that are not extensions.
  if (/^(?:aes|rsa|chacha|salsa|xor|des|3des|blowfish|rc4|twofish|serpent|ntru|curve25519)[\w+\- ]*$/i.test(s) && !s.startsWith('.')) return { status: 'dropped', reason: 'an encryption algorithm, not an extension' };
  if (/removes? (?:the )?extensions?|no extension|not changed|unchanged/i.test(s)) return { status: 'dropped', reason: 'says the name is not extended' };
  if (/^\.?[\w -]+:$/.test(s)) return { status: 'dropped', reason: 'a label, not an extension' };
  if (/<(?:abbreviated_)?(?:company|org)_?name>/i.test(s)) return { status: 'dropped', reason: 'the victim organisation\'s name: no fixed pattern' };
  s = s.replace(/^your files get marked with:?\s*/i, '');
  // `original --> renamed`: the renamed example with the original name as [ORIGINAL].
  const arrow = /^(\S+)\s*(?:-+\s*>|→|=>)\s*(\S+)$/.exec(s);
  if (arrow) {
    const [, from, to] = arrow as unknown as [string, string, string];
    const at = to.toLowerCase().indexOf(from.toLowerCase());
    if (at < 0) return { status: 'dropped', reason: 'an example whose renamed name does not contain the original' };
    const toks = tokenise(to.slice(0, at));
    const rest = tokenise(to.slice(at + from.length));
    if (typeof toks === 'string' || typeof rest === 'string') return { status: 'dropped', reason: typeof toks === 'string' ? toks : rest as string };
    return render([...toks, { ph: 'ORIGINAL' }, ...rest], raw);
  }
  // Examples: keep the description before "e.g."; use the example when there is nothing else.
  const eg = /^(.*?)[,;\s]*\b(?:e\.g\.|for example|example)\s*[:,]?\s*(.*)$/i.exec(s);
  let fromExample = false;
  if (eg) {
    const head = (eg[1] as string).trim();
    if (head.length > 0) s = head;
    else { s = (eg[2] as string).trim(); fromExample = true; }
  }
  // Random extensions described in words.
  const rnd = randomDescription(s);
  if (rnd !== undefined) return rnd === null ? { status: 'dropped', reason: 'a random extension of unknown length' } : { status: 'normalised', patterns: [{ kind: 'random', length: rnd }], emails: [] };
  // "before the ending": the marker is inserted before the original extension.
  const before = /^(\.[\w-]+)\s*\(added before the (?:ending|extension)/i.exec(s);
  if (before) return { status: 'normalised', patterns: [{ kind: 'regex', value: `${escapeRe((before[1] as string).toLowerCase())}\\.[a-z0-9]{1,10}$` }], emails: [] };
  // Prefixes.
  const pre = /^(?:(.+?)\s*[([]?\b(?:prefix|prepend)\b[)\]]?|[([]?\bprepend\b[)\]]?\s*(.+))$/i.exec(s);
  if (pre) {
    const p = (pre[1] ?? pre[2] ?? '').replace(/\.$/, '').trim();
    if (p.length === 0) return { status: 'dropped', reason: 'a prefix without its text' };
    return { status: 'normalised', patterns: [{ kind: 'regex', value: `^${escapeRe(p.toLowerCase())}` }], emails: [] };
  }
  // A trailing comment in parentheses.
  s = s.replace(/\s+\((?:[^()]*\s[^()]*)\)\s*$/, '').trim();
  // Several values in one string.
  const parts = splitValues(s);
  if (parts.length > 1) {
    const patterns: ExtensionPattern[] = [];
    const emails: string[] = [];
    const failed: string[] = [];
    for (const p of parts) {
      const o = normaliseExtension(p);
      if (o.status === 'dropped') failed.push(`${p}: ${o.reason}`);
      else { patterns.push(...o.patterns); emails.push(...o.emails); }
    }
    if (patterns.length === 0) return { status: 'dropped', reason: `none of the values could be read (${failed.join('; ')})` };
    return { status: 'normalised', patterns: dedupePatterns(patterns), emails: [...new Set(emails)] };
  }
  s = s.replace(/<[^<>]{1,60}>|\[[^[\]]{1,60}\]/g, (m) => m.replace(/\s+/g, '_'));
  // Prose is dropped; a literal with a space or two (`contact mail___x@y.psd`) is kept as a regex.
  if (/\s/.test(s) && (/(?:^|\s)[\p{L}]{2,}\s+[\p{L}]{2,}\s+[\p{L}]{2,}(?:\s|$)/u.test(s) || (!s.startsWith('.') && !/[@._!#$-]/.test(s)))) return { status: 'dropped', reason: 'free text' };
  // An example file name: drop the original name (`file.jpg.locked` → `.locked`).
  if (fromExample) s = s.replace(/^(?:[\w-]+\.)(?:jpe?g|png|gif|bmp|docx?|xlsx?|pptx?|pdf|txt|zip|rar|mp3|mp4|avi|psd)(?=\.)/i, '');
  const tokens = tokenise(s);
  if (typeof tokens === 'string') return { status: 'dropped', reason: tokens };
  return render(tokens, raw);
}

/** A random extension described in words: its length, null when the length is not given, undefined when not such a description. */
function randomDescription(s: string): number | null | undefined {
  const t = s.replace(/^[.\s[<({]+|[\s\]>)}]+$/g, '');
  const word = '(\\d{1,2}|one|two|three|four|five|six|seven|eight|nine|ten)';
  const unit = '(?:letters?|chars?|characters|symbols|digits|alphanumeric)';
  const forms = [
    new RegExp(`^random[ _]+${word}[ _]+${unit}(?:[ _]+(?:are|is)[ _]+added)?(?:[ _]+extension)?$`, 'i'),
    new RegExp(`^${word}[ _]+random[ _]+${unit}(?:[ _]+(?:are|is)[ _]+added)?(?:[ _]+extension)?$`, 'i'),
    new RegExp(`^random[ _]+${unit}[ _]*\\(?x?${word}\\)?$`, 'i'),
    new RegExp(`^random[ _]*\\(x${word}\\)?$`, 'i'),
    new RegExp(`^random_${word}_${unit}$`, 'i'),
  ];
  for (const f of forms) {
    const m = f.exec(t);
    if (m) return toNumber(m[1] as string);
  }
  if (/^(?:random|random (?:extension|chars?|characters|letters))$/i.test(t)) return null;
  return undefined;
}

function toNumber(w: string): number {
  return NUMBER_WORDS[w.toLowerCase()] ?? Number(w);
}

function splitValues(s: string): string[] {
  if (!/[,|/ ]/.test(s)) return [s];
  // A regex-like value keeps its commas ({4,6}) and slashes.
  if (/\{\d+,?\d*\}|\\[wdsb]|\[[a-z0-9]-[a-z0-9]/i.test(s)) return [s];
  const extLike = (p: string): boolean => p.length <= 40 && /^\.?[^\s.,/|]+(?:\.[^\s.,/|]+)*$/.test(p);
  const bySep = s.split(/\s*(?:,|\||\s\/\s|\/|\sor\s|\s+and\s+)\s*/).map((p) => p.trim()).filter((p) => p.length > 0);
  if (bySep.length > 1 && bySep.every(extLike)) return bySep;
  const bySpace = s.split(/\s+/).filter((p) => p.length > 0);
  if (bySpace.length > 1 && bySpace.every((p) => p.startsWith('.') && extLike(p))) return bySpace;
  return [s];
}

const PH_ID = /^(?:id[_ -]key|victim[_ -]?id|user[_ -]?id|unique[_ -]?id|id[_ -]?machine|personal[_ -]?id|infection[_ -]?id|hex[_ -]?id|machine[_ -]?id|id[_ -]?key|uid|_?id|id|\d+_digit_victim_id|victimid)$/i;
const PH_EMAIL = /^(?:e-?mail(?:[_ ]?address)?|emailaddress|contact[_ ]?e?mail)$/i;
const PH_ORIGINAL = /^(?:file[_ ]?name(?:\.file[_ ]?ext)?|filename|original(?:[_ ]name)?|encrypted[_ ]filename|file|name|nombre[_ ]archivo(?:\.ext)?)$/i;
const PH_EXT = /^(?:ext|extension|original[_ ]extension)$/i;
const PH_RANDOM = /^(?:random|rand|random[_ ]?chars?|random[_ ]?characters|random[_ ]?letters|random[_ ]name|base64|hash|file[_ ]hash|md5|hex|params|timestamp|random[_ ].*)$/i;
const PH_RANDOM_N = /^(?:random[_ ]?)?(\d{1,2})[_ ]?(?:random[_ ]?)?(?:chars?|characters|letters|symbols|digits)?$/i;
const PH_RANDOM_N2 = /^(\d{1,2}) (?:uppercase )?hex$/i;

function placeholder(inner: string): Tok | null {
  const t = inner.replace(/_/g, ' ').trim();
  if (PH_ID.test(t)) return { ph: 'ID' };
  if (PH_EMAIL.test(t)) return { ph: 'EMAIL' };
  if (PH_ORIGINAL.test(t)) return { ph: 'ORIGINAL' };
  if (PH_EXT.test(t)) return { ph: 'EXT' };
  if (PH_RANDOM.test(t)) return { ph: 'RANDOM' };
  const n = PH_RANDOM_N.exec(t) ?? PH_RANDOM_N2.exec(t);
  if (n && /random|char|letter|symbol|digit|hex/i.test(t)) return { ph: 'RANDOM', n: Number(n[1]) };
  if (/^\d{1,2}$/.test(t)) return null;
  return null;
}

/**
 * A value as tokens: placeholders in `<…>`, `[…]`, `{…}`, `%…%`, `*…*` spellings; literal e-mails
 * (in brackets or not); a concrete victim id after `.id-`; regex fragments. A string says why not.
 */
function tokenise(s0: string): Tok[] | string {
  let s = s0;
  if (s.length > 300) return 'longer than 300 characters';
  // Regex-like values go whole to the regex path.
  if (/\{\d+(?:[,-]\d*)?\}|\\[wdsWDS]|\[[^\]@]*(?:a-z|A-Z|0-9|a-f|A-F)[^\]@]*\]|\(\.\*\)|\.\*|countrycode/.test(s)) return [{ re: regexFromValue(s) }];
  const toks: Tok[] = [];
  const push = (t: Tok): void => {
    const last = toks[toks.length - 1];
    if ('lit' in t && last && 'lit' in last) last.lit += t.lit; else toks.push(t);
  };
  while (s.length > 0) {
    // Literal e-mail, possibly in brackets or parentheses.
    const em = /^([[({]?)([a-z0-9._%+-]{1,64}@[a-z0-9-]{1,63}(?:[._][a-z0-9-]{1,63}){0,8})([\])}]?)/i.exec(s);
    if (em && /[._][a-z]{2,}$/i.test(em[2] as string)) {
      push({ lit: `${em[1] === '(' || em[1] === '{' ? em[1] : em[1]}${(em[2] as string).toLowerCase()}${em[3]}` });
      s = s.slice(em[0].length);
      continue;
    }
    // Literal brackets around a placeholder: `[<email>]`, `[*email*]`.
    const nested = /^\[(<[^<>]{1,40}>|\*[^*]{1,40}\*|%[^%]{1,40}%)\]/.exec(s);
    if (nested) {
      const ph = placeholder((nested[1] as string).slice(1, -1));
      if (ph) { push({ lit: '[' }); push(ph); push({ lit: ']' }); s = s.slice(nested[0].length); continue; }
    }
    // Bracketed placeholders.
    const br = /^(?:<([^<>]{1,60})>|\[([^[\]]{1,60})\]|\{([^{}]{1,40})\}|%([^%]{1,40})%|\*([^*]{1,40})\*|\(([^()]{1,40})\))/.exec(s);
    if (br) {
      const inner = (br[1] ?? br[2] ?? br[3] ?? br[4] ?? br[5] ?? br[6]) as string;
      const ph = placeholder(inner);
      // `.[email].arena`: Dharma-style names keep the square brackets around the address.
      const prev = toks[toks.length - 1];
      if (ph && 'ph' in ph && ph.ph === 'EMAIL' && br[2] !== undefined && prev && 'lit' in prev && prev.lit.endsWith('.')) {
        push({ lit: '[' }); push(ph); push({ lit: ']' }); s = s.slice(br[0].length); continue;
      }
      if (ph) { push(ph); s = s.slice(br[0].length); continue; }
      if (br[2] !== undefined && /^[a-z0-9._-]+$/i.test(inner) && !/^(?:[A-Z][A-Z0-9_]*)$/.test(inner)) {
        // A literal in brackets (e.g. `[KASISKI]` is caught below as a possible placeholder).
        push({ lit: br[0].toLowerCase() });
        s = s.slice(br[0].length);
        continue;
      }
      if (/^[A-Z][A-Z0-9_ ]*$/.test(inner) && (br[2] !== undefined || br[1] !== undefined)) {
        if (/ID|KEY/.test(inner)) { push({ ph: 'ID' }); s = s.slice(br[0].length); continue; }
        // An upper-case word in brackets that is no placeholder we know: keep it literally.
        push({ lit: br[0].toLowerCase() });
        s = s.slice(br[0].length);
        continue;
      }
      if (br[6] !== undefined || br[3] !== undefined || ((br[4] !== undefined || br[5] !== undefined) && !/[a-z]/i.test(inner))) { push({ lit: br[0].toLowerCase() }); s = s.slice(br[0].length); continue; }
      return `unknown placeholder ${br[0]}`;
    }
    // An unterminated placeholder at the end: `_<random_numbers…`.
    const open = /^<([^<>]{1,60})$/.exec(s);
    if (open) {
      const ph = placeholder(open[1] as string);
      if (ph) { push(ph); s = ''; continue; }
    }
    // A bare word standing for a placeholder: `random.exotic`, `dummy_file.encrypted`.
    const bare = /^(random|dummy_file)(?=\.)/i.exec(s);
    if (bare && (toks.length === 0 || (toks[toks.length - 1] as { lit?: string }).lit?.endsWith('.'))) {
      push(bare[1]?.toLowerCase() === 'random' ? { ph: 'RANDOM' } : { ph: 'ORIGINAL' });
      s = s.slice(bare[0].length);
      continue;
    }
    // A date and time in an example: `14-05-2016-11-59-36`.
    const ts = /^\d{2}-\d{2}-\d{4}-\d{2}-\d{2}-\d{2}/.exec(s);
    if (ts) { push({ ph: 'RANDOM' }); s = s.slice(ts[0].length); continue; }
    // A concrete victim id in an example: `.id-BCBEF350.`, `.id-7ES642406.`, `.id-1235240425_`.
    const idm = /^(\.id[-_])([a-z0-9]{6,64})(?=[._[\]-]|$)/i.exec(s);
    if (idm) { push({ lit: (idm[1] as string).toLowerCase() }); push({ ph: 'ID' }); s = s.slice(idm[0].length); continue; }
    // A run of # or X standing for an id.
    const hash = /^(?:#{4,}|X{6,})/.exec(s);
    if (hash) { push({ ph: 'ID' }); s = s.slice(hash[0].length); continue; }
    // A mixed-case letter/digit token of 12+ characters after a dot: a victim id in an example.
    const mixed = /^\.((?=[A-Za-z0-9]*\d)(?=[A-Za-z0-9]*[a-z])(?=[A-Za-z0-9]*[A-Z])[A-Za-z0-9]{12,64})(?=\.)/.exec(s);
    if (mixed) { push({ lit: '.' }); push({ ph: 'ID' }); s = s.slice(mixed[0].length); continue; }
    push({ lit: (s[0] as string).toLowerCase() });
    s = s.slice(1);
  }
  return toks;
}

/** A regex-like galaxy value as an anchored regex source (dots literal unless `.*`/`.+`). */
function regexFromValue(v0: string): string {
  // Placeholders and quirks inside regex-like values: `<original name>`, `*filename*`,
  // `countrycode`, `{8}+` (a possessive-looking quantifier JavaScript refuses).
  const v = v0.split('\u0001').join('')
    .replace(/\[\\\[/g, '\\[').replace(/\\\]\]/g, '\\]')
    .replace(/\*(\d{1,2}) ?characters/gi, '<$1 characters>')
    .replace(/<([^<>]{1,40})>|\*([a-z_]{1,20})\*|\[([a-z_ ]*\d*[a-z_ ]*)\]/gi, (m, a?: string, b?: string, c?: string) => {
      const ph = placeholder((a ?? b ?? c ?? '').replace(/_/g, ' '));
      if (!ph || !('ph' in ph)) return m;
      return `\u0001${ph.ph === 'RANDOM' ? (ph.n !== undefined ? `R${ph.n}` : 'R') : ph.ph}\u0001`;
    })
    .replace(/countrycode/gi, '\u0001CC\u0001')
    .replace(/\}\+/g, '}')
    .split('\u0001+').join('\u0001');
  let src = '';
  let inClass = false;
  for (let i = 0; i < v.length; i++) {
    const c = v[i] as string;
    const next = v[i + 1];
    if (c === '\\') { src += c + (next ?? ''); i++; continue; }
    if (c === '\u0001') {
      const end = v.indexOf('\u0001', i + 1);
      const name = v.slice(i + 1, end);
      src += name === 'CC' ? '[a-z]{2}' : name === 'ID' ? '[a-z0-9]{6,64}' : name === 'EMAIL' ? '[^@\\s]{1,64}@[^@\\s]{1,200}' : name === 'EXT' ? '[a-z0-9]{1,10}' : name === 'ORIGINAL' ? '.+' : name.startsWith('R') && name.length > 1 ? `[a-z0-9]{${name.slice(1)}}` : '[a-z0-9]{1,32}';
      i = end;
      continue;
    }
    if (inClass) { if (c === ']') inClass = false; src += c; continue; }
    if (c === '[') {
      // A bracketed e-mail or word is literal; a character class otherwise.
      const close = v.indexOf(']', i);
      const inner = close > i ? v.slice(i + 1, close) : '';
      if (close > i && (/@/.test(inner) || (/^[a-z0-9_]{3,}$/i.test(inner) && !/^[a-z]-[a-z]$/i.test(inner)) && !/-/.test(inner))) {
        src += escapeRe(v.slice(i, close + 1));
        i = close;
        continue;
      }
      inClass = true;
      src += c;
      continue;
    }
    if (c === '.') { src += next === '*' || next === '+' ? '.' : '\\.'; continue; }
    if (c === '*' && v[i - 1] !== '.' && v[i - 1] !== ')' && v[i - 1] !== ']') { src += '.*'; continue; }
    if (c === '{' && !/^\{\d+(?:,\d*)?\}/.test(v.slice(i))) {
      const m = /^\{(\d+)-(\d+)\}/.exec(v.slice(i));
      if (m) { src += `{${m[1]},${m[2]}}`; i += m[0].length - 1; continue; }
      src += '\\{';
      continue;
    }
    if (c === '}' && !/\{\d+(?:,\d*)?$/.test(v.slice(0, i))) { src += '\\}'; continue; }
    if (c === '$' || c === '/' || c === '#' || c === '!' || c === '~') { src += `\\${c}`; continue; }
    src += c;
  }
  // Anchors: a value starting with a dot is the end of the name; one starting with a group or
  // class followed by a literal dot replaces the whole name; anything else is a bare extension.
  if (src.startsWith('\\.')) return `${src}$`;
  if (/^(?:\(|\[)/.test(src) && /\\\./.test(src)) return `^${src}$`;
  if (/^\.\*|^\.\+|^\(\.\*\)/.test(src)) return `^${src}$`;
  return `\\.${src}$`;
}

function render(toks: Tok[], raw: string): ExtensionOutcome {
  const emails = extractEmails(toks.map((t) => ('lit' in t ? t.lit : ' ')).join(' '));
  const first = toks[0];
  if (toks.length === 1 && first && 're' in first) {
    const src = first.re;
    const rn = /^\\\.\(?\[(?:a-z|A-Z|0-9|a-zA-Z|a-zA-Z0-9|A-Za-z0-9|A-Z0-9|a-z0-9|A-F0-9|a-f0-9)+\]\{(\d+)\}\)?\$$/.exec(src);
    if (rn) return { status: 'normalised', patterns: [{ kind: 'random', length: Number(rn[1]) }], emails };
    const why = unsafeRegexReason(src);
    if (why !== null) return { status: 'dropped', reason: `regex ${src}: ${why}` };
    return { status: 'normalised', patterns: [{ kind: 'regex', value: src }], emails };
  }
  // Only literals: a suffix (or, for `_x3m`, `-DATASTOP`, `!ENC`, a name ending without a dot: a regex).
  if (toks.every((t) => 'lit' in t)) {
    let lit = toks.map((t) => (t as { lit: string }).lit).join('').trim();
    lit = lit.replace(/^\.{2,}/, '.');
    if (lit.length === 0 || /^[.*_-]+$/.test(lit)) return { status: 'dropped', reason: 'no extension text' };
    if (lit.endsWith('.') && !lit.startsWith('.')) return { status: 'normalised', patterns: [{ kind: 'regex', value: `^${escapeRe(lit)}` }], emails };
    lit = lit.replace(/\.+$/, '');
    if (/[/\\]/.test(lit)) return { status: 'dropped', reason: 'contains path separators' };
    if (/\s/.test(lit)) return { status: 'normalised', patterns: [{ kind: 'regex', value: `${escapeRe(lit.startsWith('.') || !/^[\p{L}\p{N}]/u.test(lit) ? lit : `.${lit}`)}$` }], emails };
    if (lit.length > 200) return { status: 'dropped', reason: 'longer than 200 characters' };
    if (/^[a-z0-9]/i.test(lit) || lit.charCodeAt(0) > 0x7f) lit = `.${lit}`;
    if (lit.startsWith('.')) return { status: raw.trim() === lit || raw.trim().toLowerCase() === lit ? 'kept' : 'normalised', patterns: [{ kind: 'suffix', value: lit }], emails };
    return { status: 'normalised', patterns: [{ kind: 'regex', value: `${escapeRe(lit)}$` }], emails };
  }
  // Placeholders: a template when every random part has a length, else the fixed tail as a
  // suffix when it is a real extension, else a regex.
  if (toks.some((t) => 're' in t)) return { status: 'dropped', reason: 'mixed regex and placeholders' };
  const litAlnum = toks.map((t) => ('lit' in t ? t.lit : '')).join('').replace(/[^\p{L}\p{N}]/gu, '').length;
  if (litAlnum < 2 && !toks.some((t) => 'ph' in t && t.ph === 'EMAIL')) return { status: 'dropped', reason: 'no fixed text: any name would match' };
  const unknownRandom = toks.some((t) => 'ph' in t && t.ph === 'RANDOM' && (t as { n?: number }).n === undefined);
  if (!unknownRandom) {
    let v = toks.map((t) => ('lit' in t ? t.lit : 're' in t ? t.re : t.ph === 'RANDOM' ? `[RANDOM:${t.n ?? 0}]` : `[${t.ph}]`)).join('');
    if (/^[\p{L}\p{N}]/u.test(v)) v = `.${v}`;
    const onlyTail = /^\[ORIGINAL\](\.[^[\]\s]+)$/.exec(v);
    if (onlyTail) return { status: 'normalised', patterns: [{ kind: 'suffix', value: onlyTail[1] as string }], emails };
    if (/^\.?\[RANDOM:(\d+)\]$/.test(v)) return { status: 'normalised', patterns: [{ kind: 'random', length: Number(/(\d+)/.exec(v)?.[1]) }], emails };
    return { status: 'normalised', patterns: [{ kind: 'template', value: v }], emails };
  }
  const lastPh = toks.map((t) => 'ph' in t).lastIndexOf(true);
  const tail = toks.slice(lastPh + 1).map((t) => (t as { lit: string }).lit).join('');
  const tailExt = /^\]?(\.[^\s.[\]]{2,})$/.exec(tail);
  if (tailExt) return { status: 'normalised', patterns: [{ kind: 'suffix', value: tailExt[1] as string }], emails };
  let src = '';
  for (const t of toks) {
    if ('lit' in t) src += escapeRe(t.lit);
    else if ('re' in t) src += t.re;
    else if (t.ph === 'RANDOM') src += t.n !== undefined ? `[a-z0-9]{${t.n}}` : '[^.\\s]{1,64}';
    else if (t.ph === 'ID') src += '[a-z0-9]{6,64}';
    else if (t.ph === 'EMAIL') src += '[^@\\s]{1,64}@[^@\\s]{1,200}';
    else if (t.ph === 'EXT') src += '[a-z0-9]{1,10}';
    else src += '.+';
  }
  const anchored = toks.some((t) => 'ph' in t && t.ph === 'ORIGINAL') ? `^${src}$` : `${src}$`;
  return { status: 'normalised', patterns: [{ kind: 'regex', value: anchored }], emails };
}

function dedupePatterns(ps: ExtensionPattern[]): ExtensionPattern[] {
  const seen = new Set<string>();
  return ps.filter((p) => {
    const k = JSON.stringify(p);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

// ---------------------------------------------------------------- note names

export type NoteNameOutcome = { names: string[]; normalised: boolean } | { names: []; reason: string };

/**
 * One galaxy note-file value → note names with `*` wildcards: paths and environment variables
 * dropped, placeholders (`[id]`, `<random>`, `%random%`, `{RAND}`, `*md5*`, `[A-Z0-9]{4-8}`) → `*`,
 * several names or extensions in one value expanded, "e.g." tails and comments dropped.
 */
export function normaliseNoteName(raw: string): NoteNameOutcome {
  let s = decodeEntities(raw.slice(0, 1024)).replace(/[“”"]/g, '').replace(/\s+/g, ' ').trim();
  const orig = s;
  s = s.replace(/[,;.]?\s*\b(?:e\.g\.|for example)[\s\S]*$/i, '').trim();
  s = s.replace(/\s+\((?:[^()]*)\)\s*$/, '').trim();
  s = s.replace(/\.\s*$/, '');
  const alts: string[] = [];
  // `name.txt, .html` / `name.(bmp|htm)` / `a | b`
  for (const part of s.split(/\s+\|\s+/)) {
    const multi = /^(.*?)(\.[a-z0-9]{2,5})((?:\s*,\s*\.[a-z0-9]{2,5})+)$/i.exec(part);
    const grp = /^(.*)\.\(([a-z0-9|]+)\)$/i.exec(part);
    if (multi) {
      alts.push(`${multi[1]}${multi[2]}`);
      for (const e of (multi[3] as string).split(',').map((x) => x.trim()).filter(Boolean)) alts.push(`${multi[1]}${e}`);
    } else if (grp) {
      for (const e of (grp[2] as string).split('|')) alts.push(`${grp[1]}.${e}`);
    } else alts.push(part);
  }
  const names: string[] = [];
  for (let a of alts) {
    a = a.replace(/^.*[\\/]/, ''); // a path: keep the base name
    a = a.replace(/%[a-z_]+%/gi, (m) => (/%random%/i.test(m) ? '*' : ''));
    a = a.replace(/\[[^\]]*\]\{\d+(?:[,-]\d+)?\}|\[[^\]]*\]\{?[^\]]*?\}?/g, '*');
    a = a.replace(/<[^<>]{1,40}>|\{[^{}]{1,40}\}|\*[a-z_]{1,20}\*/gi, '*');
    a = a.replace(/\*+/g, '*').trim();
    if (a.length === 0) continue;
    const literal = a.replace(/\*/g, '').replace(/\.[a-z0-9]{2,4}$/i, '');
    if (literal.replace(/[^\p{L}\p{N}]/gu, '').length < 3) continue; // `*.txt`: any file would match
    if (a.length > 255) continue;
    names.push(a);
  }
  if (names.length === 0) return { names: [], reason: alts.length === 0 ? 'empty' : 'no fixed part: any file would match' };
  return { names: [...new Set(names)], normalised: names.length !== 1 || names[0] !== orig };
}

// ---------------------------------------------------------------- decryptor links

interface DecryptorRule { host: RegExp; path: RegExp; vendor: string }

const DECRYPTOR_RULES: readonly DecryptorRule[] = [
  { host: /(^|\.)nomoreransom\.org$/, path: /decryption-tools|\/uploads\/|decryptor|how-to/i, vendor: 'No More Ransom' },
  { host: /^decrypter\.emsisoft\.com$/, path: /^\/(?!$).+/, vendor: 'Emsisoft' },
  { host: /(^|\.)emsisoft\.com$/, path: /ransomware-decryption\/.+/i, vendor: 'Emsisoft' },
  { host: /^noransom\.kaspersky\.com$/, path: /.*/, vendor: 'Kaspersky NoRansom' },
  { host: /(^|\.)kaspersky\.com$/, path: /decryptor|utilities/i, vendor: 'Kaspersky' },
  { host: /(^|\.)(avast\.com|avast\.io)$/, path: /decrypt/i, vendor: 'Avast' },
  { host: /(^|\.)avg\.com$/, path: /decrypt/i, vendor: 'AVG' },
  { host: /(^|\.)bitdefender\.com$/, path: /decrypt/i, vendor: 'Bitdefender' },
  { host: /(^|\.)trendmicro\.com$/, path: /decryptor|1114221|ransomware-file-decryptor/i, vendor: 'Trend Micro' },
  { host: /(^|\.)mcafee\.com$/, path: /decrypt/i, vendor: 'McAfee' },
  { host: /(^|\.)(eset\.com|welivesecurity\.com)$/, path: /decrypt(?:or|ion-tool)/i, vendor: 'ESET' },
  { host: /(^|\.)(talosintel\.com|talosintelligence\.com)$/, path: /tool|decrypt/i, vendor: 'Cisco Talos' },
  { host: /^download\.bleepingcomputer\.com$/, path: /decrypt/i, vendor: 'BleepingComputer download' },
  { host: /(^|\.)tesorion\.(nl|com)$/, path: /decryptor/i, vendor: 'Tesorion' },
  { host: /^github\.com$/, path: /decrypt/i, vendor: 'GitHub' },
  { host: /(^|\.)checkpoint\.com$/, path: /decrypt/i, vendor: 'Check Point' },
  { host: /(^|\.)ahnlab\.com$/, path: /decrypt/i, vendor: 'AhnLab' },
  { host: /(^|\.)porthas\.com$/, path: /decrypt/i, vendor: 'Porthas' },
  { host: /^decryptors\.blogspot\.[a-z.]+$/, path: /decrypt/i, vendor: 'decryptors.blogspot' },
  { host: /^hshrzd\.wordpress\.com$/, path: /decryptor/i, vendor: 'hasherezade' },
];

/** A galaxy link that points at a decryptor (vendor tool page, download, guide) as a `Decryptor`, else null. */
export function decryptorFromLink(url: string): Decryptor | null {
  let u: URL;
  try { u = new URL(url.trim()); } catch { return null; }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return null;
  const host = u.hostname.toLowerCase();
  if (host.endsWith('.onion')) return null;
  for (const r of DECRYPTOR_RULES) {
    if (!r.host.test(host) || !r.path.test(u.pathname + u.hash)) continue;
    const last = decodeURIComponentSafe(u.pathname.split('/').filter(Boolean).pop() ?? '').replace(/\.(html?|php|aspx?|zip|exe|pdf)$/i, '');
    const name = r.vendor === 'Kaspersky NoRansom' && last === '' ? 'Kaspersky NoRansom decryptors' : last ? `${r.vendor}: ${last}` : `${r.vendor} decryption tools`;
    return { name, url: u.href };
  }
  return null;
}

function decodeURIComponentSafe(s: string): string {
  try { return decodeURIComponent(s); } catch { return s; }
}

// ---------------------------------------------------------------- import

/** The keys of a galaxy entry's meta, misspellings included, and what they are read as. */
const META_KEYS: Readonly<Record<string, string>> = {
  extensions: 'extensions', extension: 'extensions', 'file-extensions': 'extensions',
  'ransomnotes-filenames': 'ransomnotes-filenames', 'ransomnotes-filesnames': 'ransomnotes-filenames', 'ransomnotes-files': 'ransomnotes-filenames',
  'ransomenotes-files': 'ransomnotes-filenames', 'ransomenotes-filenames': 'ransomnotes-filenames', 'ransomnote-filenames': 'ransomnotes-filenames',
  ransomnotes: 'ransomnotes', ransomenotes: 'ransomnotes', ransomnote: 'ransomnotes',
  'ransomnotes-refs': 'ransomnotes-refs', 'ransomenotes-refs': 'ransomnotes-refs',
  encryption: 'encryption', Encryption: 'encryption',
  refs: 'refs', links: 'links', synonyms: 'synonyms',
};

interface Draft {
  family: Family;
  entry: number;
}

function strings(v: unknown, at: string, problems: ImportProblem[]): { s: string; at: string }[] {
  const arr = Array.isArray(v) ? v : typeof v === 'string' ? [v] : null;
  if (arr === null) { problems.push({ at, message: 'not a list of strings' }); return []; }
  const out: { s: string; at: string }[] = [];
  for (let i = 0; i < arr.length && i < MAX_VALUES; i++) {
    const x: unknown = arr[i];
    const a = Array.isArray(v) ? `${at}[${i}]` : at;
    if (typeof x !== 'string') { problems.push({ at: a, message: 'not a string' }); continue; }
    if (x.length > MAX_VALUE_CHARS) { problems.push({ at: a, message: `longer than ${MAX_VALUE_CHARS} characters: skipped` }); continue; }
    out.push({ s: x, at: a });
  }
  if (arr.length > MAX_VALUES) problems.push({ at, message: `${arr.length} values: only the first ${MAX_VALUES} read` });
  return out;
}

function isHttpUrl(s: string): boolean {
  try { const u = new URL(s.trim()); return u.protocol === 'https:' || u.protocol === 'http:'; } catch { return false; }
}

/** Imports the galaxy; see the file comment. Never throws on bad data: problems are reported. */
export function importMispGalaxy(json: unknown, opts: ImportOptions = {}): { kb: KnowledgeBase; report: ImportReport } {
  const problems: ImportProblem[] = [];
  const renamedKeys: ImportReport['renamedKeys'] = [];
  const ext = { kept: 0, normalised: 0, dropped: 0 };
  let noteNames = 0;
  let notes = 0;
  const fromDescriptions = { n: 0 };
  const drafts: Draft[] = [];
  let version: number | undefined;
  let galaxyName = 'ransomware';
  if (!isRec(json)) problems.push({ at: '$', message: 'not a JSON object: not a MISP galaxy cluster' });
  else {
    if (Number.isInteger(json['version'])) version = json['version'] as number;
    else problems.push({ at: '$.version', message: 'missing or not an integer' });
    if (typeof json['type'] === 'string') galaxyName = json['type'];
    if (json['type'] !== undefined && json['type'] !== 'ransomware') problems.push({ at: '$.type', message: `"${String(json['type']).slice(0, 40)}", expected "ransomware"` });
    const values = json['values'];
    if (!Array.isArray(values)) problems.push({ at: '$.values', message: 'missing or not a list' });
    else {
      if (values.length > MAX_ENTRIES) problems.push({ at: '$.values', message: `${values.length} entries: only the first ${MAX_ENTRIES} read` });
      for (let i = 0; i < values.length && i < MAX_ENTRIES; i++) {
        const d = importEntry(values[i], `$.values[${i}]`, i, problems, renamedKeys, ext, fromDescriptions);
        if (d) { drafts.push(d); noteNames += d.family.noteNames.length; notes += d.family.noteHashes.length; }
      }
    }
  }
  // Unique ids.
  const used = new Map<string, number>();
  for (const d of drafts) {
    const n = used.get(d.family.id) ?? 0;
    used.set(d.family.id, n + 1);
    if (n > 0) d.family.id = `${d.family.id}-${n + 1}`;
  }
  let families = drafts.map((d) => d.family);
  const merged: ImportReport['merged'] = [];
  if (opts.facts !== false) families = mergeFacts(families, FACTS, merged);
  families.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const kb: KnowledgeBase = {
    format: KB_FORMAT,
    built: { from: opts.from ?? `MISP galaxy ${galaxyName}${opts.facts !== false ? ' + vigil facts' : ''}`, ...(version !== undefined ? { version } : {}), at: (opts.at ?? new Date()).toISOString() },
    families,
  };
  for (const p of validateKnowledgeBase(kb)) problems.push({ at: `(knowledge base) ${p.at}`, message: p.message });
  const identifiable = families.filter((f) => f.extensions.length + f.noteNames.length + f.noteHashes.length + f.emails.length + f.onions.length + f.markers.length > 0).length;
  return {
    kb,
    report: { families: families.length, extensions: ext, noteNames, notes, problems, renamedKeys, merged, decryptors: families.reduce((n, f) => n + f.decryptors.length, 0), identifiable, fromDescriptions: fromDescriptions.n },
  };
}

/** The shipped `db/ransom/kb.json` from the galaxy file of commit SHIPPED_BUILD.commit (same input, same bytes). */
export function buildShippedKnowledgeBase(json: unknown): { kb: KnowledgeBase; report: ImportReport } {
  const type = isRec(json) && typeof json['type'] === 'string' ? json['type'] : 'ransomware';
  return importMispGalaxy(json, { at: new Date(SHIPPED_BUILD.at), from: `MISP galaxy ${type} (MISP/misp-galaxy ${SHIPPED_BUILD.commit}, clusters/ransomware.json) + vigil facts` });
}

function importEntry(v: unknown, at: string, index: number, problems: ImportProblem[], renamed: ImportReport['renamedKeys'], ext: ImportReport['extensions'], fromDesc: { n: number }): Draft | null {
  if (!isRec(v)) { problems.push({ at, message: 'not an object: entry skipped' }); return null; }
  const rawName = v['value'];
  if (typeof rawName !== 'string' || rawName.trim().length === 0) { problems.push({ at: `${at}.value`, message: 'no name: entry skipped' }); return null; }
  const name = rawName.replace(/\s+/g, ' ').trim().slice(0, 200);
  const uuid = typeof v['uuid'] === 'string' ? v['uuid'] : null;
  if (uuid === null) problems.push({ at: `${at}.uuid`, message: 'missing: source recorded by name' });
  const f: Family = {
    id: slugOf(name), name, synonyms: [], extensions: [], noteNames: [], noteHashes: [], emails: [], onions: [], markers: [], decryptors: [], refs: [],
    sources: [uuid !== null ? `misp:${uuid.toLowerCase()}` : `misp:${name}`],
  };
  const meta = v['meta'];
  if (meta !== undefined && !isRec(meta)) problems.push({ at: `${at}.meta`, message: 'not an object' });
  const m = isRec(meta) ? meta : {};
  const byKey = new Map<string, { key: string; value: unknown }[]>();
  for (const [k, val] of Object.entries(m)) {
    const as = META_KEYS[k] ?? META_KEYS[k.toLowerCase()];
    if (as === undefined) continue;
    if (as !== k) renamed.push({ at: `${at}.meta.${k}`, key: k, as });
    const list = byKey.get(as) ?? [];
    list.push({ key: k, value: val });
    byKey.set(as, list);
  }
  const each = (key: string, fn: (s: string, at: string) => void): void => {
    for (const { key: k, value } of byKey.get(key) ?? []) for (const x of strings(value, `${at}.meta.${k}`, problems)) fn(x.s, x.at);
  };
  const emails = new Set<string>();
  const onions = new Set<string>();
  const extSeen = new Set<string>();
  each('extensions', (s, a) => {
    const o = normaliseExtension(s);
    ext[o.status]++;
    if (o.status === 'dropped') { problems.push({ at: a, message: `extension ${JSON.stringify(s.slice(0, 120))} not normalised: ${o.reason}` }); return; }
    for (const p of o.patterns) {
      const k = JSON.stringify(p);
      if (!extSeen.has(k)) { extSeen.add(k); f.extensions.push(p); }
    }
    for (const e of o.emails) emails.add(e);
  });
  if (!byKey.has('extensions') && typeof v['description'] === 'string') {
    for (const e of extensionsInDescription(v['description'])) {
      const p: ExtensionPattern = { kind: 'suffix', value: e };
      const k = JSON.stringify(p);
      if (!extSeen.has(k)) { extSeen.add(k); f.extensions.push(p); fromDesc.n++; }
    }
  }
  const nn = new Set<string>();
  const addNoteName = (s: string, a: string): void => {
    const o = normaliseNoteName(s);
    if (o.names.length === 0) { problems.push({ at: a, message: `note name ${JSON.stringify(s.slice(0, 120))} not normalised: ${'reason' in o ? o.reason : ''}` }); return; }
    for (const n of o.names) if (!nn.has(n.toLowerCase())) { nn.add(n.toLowerCase()); f.noteNames.push(n); }
  };
  each('ransomnotes-filenames', addNoteName);
  const sigSeen = new Set<string>();
  each('ransomnotes', (s, a) => {
    const t = s.trim();
    if (isHttpUrl(t) && !/\s/.test(t)) { f.refs.push(t); problems.push({ at: a, message: 'note text is a link (an image of the note): kept as a reference' }); return; }
    if (!t.includes('\n') && t.length <= 100 && (!/\s/.test(t) || /^\S+\.[a-z0-9]{2,8}\.?(?:\s*\([^)]*\))?$/i.test(t) || /\s(?:txt|html?)$/i.test(t))) {
      problems.push({ at: a, message: `note text ${JSON.stringify(t)} looks like a file name: read as a note name` });
      addNoteName(t.replace(/\s(txt|html?)$/i, '.$1'), a);
      return;
    }
    for (const e of extractEmails(t)) emails.add(e);
    for (const o of extractOnions(t)) onions.add(o);
    const words = normaliseNote(t).split(' ').filter(Boolean).length;
    if (words < MIN_NOTE_WORDS) { problems.push({ at: a, message: `note text of ${words} words: too short for a signature (contacts kept)` }); return; }
    const sig = noteSignature(t);
    const k = sig.join(',');
    if (!sigSeen.has(k)) { sigSeen.add(k); f.noteHashes.push(sig); }
  });
  for (const key of ['links', 'refs']) {
    each(key, (s, a) => {
      const t = s.trim();
      if (!isHttpUrl(t)) {
        const os = extractOnions(t.replace(/\s+/g, ''));
        for (const o of os) onions.add(o);
        problems.push({ at: a, message: `not an http(s) link: ${JSON.stringify(t.slice(0, 80))}${os.length > 0 ? ' (its onion address kept)' : ''}` });
        return;
      }
      const d = decryptorFromLink(t);
      if (d) { if (!f.decryptors.some((x) => x.url === d.url)) f.decryptors.push(d); return; }
      if (/\.onion$/i.test(new URL(t).hostname)) { for (const o of extractOnions(t)) onions.add(o); return; }
      if (!f.refs.includes(t)) f.refs.push(t);
    });
  }
  each('synonyms', (s) => {
    const t = s.replace(/\s+/g, ' ').trim();
    if (t.length > 0 && t.length <= 200 && t.toLowerCase() !== name.toLowerCase() && !f.synonyms.some((x) => x.toLowerCase() === t.toLowerCase())) f.synonyms.push(t);
  });
  each('encryption', (s) => {
    const t = s.replace(/\s+/g, ' ').trim().slice(0, 500);
    if (t.length > 0) f.encryption = f.encryption ? `${f.encryption}; ${t}` : t;
  });
  f.refs = pickRefs(f.refs);
  f.emails = [...emails].filter((e) => /^[^\s@]+@[^\s@]+$/.test(e)).sort();
  f.onions = [...onions].sort();
  return { family: f, entry: index };
}

/** File types a description names as targets, not as the added extension. */
const TARGET_TYPES = new Set(['.vmdk', '.vmx', '.vmsn', '.vmem', '.vswp', '.vhd', '.vhdx', '.exe', '.dll', '.sys', '.lnk', '.ini', '.txt', '.html', '.htm', '.hta', '.bat', '.ps1', '.doc', '.docx', '.xls', '.xlsx', '.pdf', '.jpg', '.png', '.zip', '.rar', '.com', '.net', '.org', '.onion', '.io', '.ru', '.cc', '.py', '.js', '.sql', '.bak']);

/**
 * Extensions a free-text description says are appended: "appends the .hilda extension",
 * "the filename extension .crlk", "renames files with .abc". Conservative: only a dotted token
 * right after such a phrase, never a common file type.
 */
export function extensionsInDescription(text: string): string[] {
  const t = text.slice(0, 20_000);
  const out = new Set<string>();
  const re = /\b(?:append(?:s|ed|ing)?|add(?:s|ed|ing)?|renam(?:es|ed|ing)|extension|suffix)\b[^.;:!?\n]{0,60}?["“'‘( ](\.[a-z0-9_-]{2,15})(?=["”'’),;:\s]|\.(?:\s|$)|$)/gi;
  for (const m of t.matchAll(re)) {
    const e = (m[1] as string).toLowerCase();
    if (!TARGET_TYPES.has(e) && /[a-z]/.test(e)) out.add(e);
  }
  return [...out];
}

/** Low-value references: images, tweets, spreadsheets. */
function refRank(u: string): number {
  if (/\.(?:png|jpe?g|gif|bmp)(?:$|\?)|bp\.blogspot\.com|pbs\.twimg\.com|bleepstatic\.com/i.test(u)) return 3;
  if (/twitter\.com|x\.com\/|docs\.google\.com|pastebin\.com/i.test(u)) return 2;
  if (/ransomlook\.io/i.test(u)) return 1;
  return 0;
}

function pickRefs(refs: string[]): string[] {
  return refs.map((u, i) => ({ u, i, r: refRank(u) })).sort((a, b) => a.r - b.r || a.i - b.i).slice(0, MAX_REFS).map((x) => x.u);
}

// ---------------------------------------------------------------- facts

/** The name used to match facts with galaxy entries: lower case, without "ransomware", letters and digits only. */
export function matchKey(name: string): string {
  return name.toLowerCase().replace(/\b(?:ransomware|ransomsware|ransom)\b/g, '').replace(/[^a-z0-9]+/g, '');
}

function mergeFacts(families: Family[], facts: readonly FamilyFacts[], merged: ImportReport['merged']): Family[] {
  const out = families.slice();
  for (const fact of facts) {
    const keys = new Set([fact.name, ...fact.synonyms, ...(fact.galaxyNames ?? [])].map(matchKey).filter((k) => k.length > 0));
    const hits = out.filter((f) => matchKey(f.name) !== '' && (keys.has(matchKey(f.name)) || (fact.matchGalaxySynonyms !== false && f.synonyms.some((s) => keys.has(matchKey(s))))));
    const fam: Family = {
      id: fact.id, name: fact.name, synonyms: [...fact.synonyms], extensions: [...fact.extensions], noteNames: [...fact.noteNames], noteHashes: (fact.notes ?? []).map((n) => noteSignature(n)),
      emails: [], onions: [], markers: [...fact.markers], ...(fact.encryption !== undefined ? { encryption: fact.encryption } : {}), decryptors: fact.decryptors.map((d) => ({ ...d })),
      refs: [...fact.refs], sources: [],
    };
    for (const h of hits) {
      for (const s of [h.name, ...h.synonyms]) if (s.toLowerCase() !== fam.name.toLowerCase() && !fam.synonyms.some((x) => x.toLowerCase() === s.toLowerCase())) fam.synonyms.push(s);
      for (const e of h.extensions) if (!fam.extensions.some((x) => JSON.stringify(x) === JSON.stringify(e))) fam.extensions.push(e);
      for (const n of h.noteNames) if (!fam.noteNames.some((x) => x.toLowerCase() === n.toLowerCase())) fam.noteNames.push(n);
      for (const s of h.noteHashes) if (!fam.noteHashes.some((x) => x.join() === s.join())) fam.noteHashes.push(s);
      fam.emails.push(...h.emails);
      fam.onions.push(...h.onions);
      for (const mk of h.markers) fam.markers.push(mk);
      if (h.encryption && !fam.encryption) fam.encryption = h.encryption;
      for (const d of h.decryptors) if (!fam.decryptors.some((x) => x.url === d.url)) fam.decryptors.push(d);
      for (const r of h.refs) if (!fam.refs.includes(r)) fam.refs.push(r);
      fam.sources.push(...h.sources);
      out.splice(out.indexOf(h), 1);
    }
    fam.refs = [...fact.refs, ...pickRefs(fam.refs.slice(fact.refs.length))].slice(0, fact.refs.length + MAX_REFS);
    fam.emails = [...new Set(fam.emails)].sort();
    fam.onions = [...new Set(fam.onions)].sort();
    fam.sources.push('vigil-facts');
    // The fact's id must stay unique among what is left.
    const clash = out.find((f) => f.id === fam.id);
    if (clash) clash.id = `${clash.id}-misp`;
    out.push(fam);
    merged.push({ family: fam.id, entries: hits.map((h) => h.name) });
  }
  return out;
}
