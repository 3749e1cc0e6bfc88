/**
 * Ransom-note similarity: a normaliser that removes what differs between two victims of the same
 * family (victim ids, amounts, wallet addresses, e-mails, onion addresses and URLs, hex and base64
 * blobs, long numbers, HTML, punctuation, spacing), MinHash signatures over word shingles of the
 * normalised text, and an LSH-banded index to find the notes similar to one without comparing it
 * with every note.
 *
 * In: note texts (any length; at most MAX_NOTE_CHARS are read). Out: `MINHASH_K` unsigned 32-bit
 * minima per note; an estimated Jaccard similarity of two signatures; the indexed notes whose
 * similarity reaches a threshold.
 * Why: a family's note template is its strongest signal after the extension, and notes are filled
 * in per victim; exact hashes would never match, a lexical signature of the template does. The
 * signatures are deterministic (fixed seeds) so the shipped knowledge base can store them.
 *
 * Parameters: K = 128 minima gives a standard error of sqrt(J(1-J)/128) ≤ 0.045 on the estimate;
 * shingles are 3 consecutive words (a note of fewer words is one shingle); the index splits the
 * signature into 32 bands of 4 rows, so two notes become candidates with probability
 * 1-(1-J^4)^32: 0.87 at J = 0.5, 0.99 at J = 0.6, 0.21 at J = 0.25. Queries with `minSim` below
 * `LSH_MIN_SIM` compare with every note instead (banding would miss too many of them).
 */

export const MINHASH_K = 128;
export const SHINGLE_WORDS = 3;
export const LSH_BANDS = 32;
export const LSH_ROWS = MINHASH_K / LSH_BANDS;
/** Below this threshold a query scans all notes rather than trusting the bands. */
export const LSH_MIN_SIM = 0.4;
/** Only the first MAX_NOTE_CHARS characters of a note are read (notes are a few KB; HTML ones tens). */
export const MAX_NOTE_CHARS = 512 * 1024;
/** The signature of a text with no words: every minimum is this value (never equal to another's). */
export const EMPTY_SLOT = 0xffffffff;

const MARK = '\ue000';
const tok = (name: string): string => ` ${MARK}${name}${MARK} `;

const ENTITIES: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };

/**
 * Tags, comments and script/style/head content → spaces, in one left-to-right pass (each search
 * starts where the last one ended, so hostile markup such as thousands of unclosed `<script>`
 * tags costs linear time); then character references.
 */
function stripHtml(s: string): string {
  if (!/<[a-z!/]/i.test(s)) return s;
  const lower = s.toLowerCase();
  // The next occurrence of each needle at or after a position, remembered: positions only grow,
  // and a needle found nowhere further is never searched for again.
  const memo = new Map<string, number>();
  const find = (needle: string, from: number): number => {
    const at = memo.get(needle);
    if (at !== undefined && (at === -1 || at >= from)) return at;
    const found = lower.indexOf(needle, from);
    memo.set(needle, found);
    return found;
  };
  const out: string[] = [];
  let i = 0;
  let text = 0;
  while (i < s.length) {
    const lt = find('<', i);
    if (lt < 0) break;
    const next = lower.charCodeAt(lt + 1);
    const isTag = (next >= 97 && next <= 122) || next === 33 /* ! */ || next === 47 /* / */;
    let end = -1;
    if (isTag) {
      if (lower.startsWith('<!--', lt)) {
        const c = find('-->', lt + 4);
        end = c < 0 ? s.length : c + 3;
      } else {
        const gt = find('>', lt + 1);
        const m = /^<(script|style|head)\b/.exec(lower.slice(lt, lt + 8));
        if (m) {
          const close = find(`</${m[1]!}`, gt < 0 ? lt + 1 : gt + 1);
          const closeEnd = close < 0 ? -1 : find('>', close);
          end = closeEnd < 0 ? s.length : closeEnd + 1;
        } else if (gt >= 0 && gt - lt <= 2001) {
          end = gt + 1;
        }
      }
    }
    if (end < 0) { i = lt + 1; continue; } // not a tag: the `<` stays as text
    out.push(s.slice(text, lt), ' ');
    i = end;
    text = end;
  }
  out.push(s.slice(text));
  return out.join('').replace(/&(#x[0-9a-f]{1,6}|#[0-9]{1,7}|[a-z]{2,6});/gi, (m, e: string) => {
    const l = e.toLowerCase();
    if (l.startsWith('#x')) return safeChar(parseInt(l.slice(2), 16));
    if (l.startsWith('#')) return safeChar(parseInt(l.slice(1), 10));
    return ENTITIES[l] ?? m;
  });
}

function safeChar(cp: number): string {
  return cp > 0 && cp <= 0x10ffff ? String.fromCodePoint(cp) : ' ';
}

/** Cyrillic letters drawn like Latin ones (notes mix them in to defeat text matching). */
const HOMOGLYPHS: Readonly<Record<string, string>> = {
  а: 'a', в: 'b', е: 'e', ё: 'e', к: 'k', м: 'm', н: 'h', о: 'o', р: 'p', с: 'c', т: 't', у: 'y', х: 'x', ѕ: 's', і: 'i', ї: 'i', ј: 'j', ԁ: 'd', ԛ: 'q', ԝ: 'w', ү: 'y', һ: 'h',
  А: 'A', В: 'B', Е: 'E', Ё: 'E', К: 'K', М: 'M', Н: 'H', О: 'O', Р: 'P', С: 'C', Т: 'T', У: 'Y', Х: 'X', Ѕ: 'S', І: 'I', Ї: 'I', Ј: 'J', Ү: 'Y', Һ: 'H',
};

/**
 * Cyrillic look-alikes → Latin: everywhere when the note is mostly Latin (true Cyrillic letters are
 * rare), else only inside words that mix the scripts. A Russian note stays Russian.
 */
function foldHomoglyphs(s: string): string {
  if (!/[\u0400-\u052f]/.test(s)) return s;
  let latin = 0;
  let cyr = 0;
  for (const ch of s) {
    if (/[a-z]/i.test(ch)) latin++;
    else if (/[\u0400-\u052f]/.test(ch) && HOMOGLYPHS[ch] === undefined) cyr++;
  }
  const fold = (w: string): string => w.replace(/[\u0400-\u052f]/g, (c) => HOMOGLYPHS[c] ?? c);
  if (latin > 4 * cyr) return fold(s);
  return s.replace(/[\p{L}]+/gu, (w) => (/[a-z]/i.test(w) && /[\u0400-\u052f]/.test(w) ? fold(w) : w));
}

/**
 * The note with everything victim-specific replaced by placeholder tokens (`<email>`, `<onion>`,
 * `<url>`, `<btc>`, `<xmr>`, `<eth>`, `<hex>`, `<blob>`, `<id>`, `<amount>`, `<num>`), lower case,
 * HTML tags removed, every run of punctuation and whitespace one space.
 */
export function normaliseNote(text: string): string {
  let s = text.length > MAX_NOTE_CHARS ? text.slice(0, MAX_NOTE_CHARS) : text;
  s = foldHomoglyphs(stripHtml(s.replace(/\ue000/g, ' ')).normalize('NFKC'));
  // Contacts and addresses first (they contain the characters the later rules look at).
  s = s.replace(/[a-z0-9._%+-]{1,64}@[a-z0-9-]{1,63}(?:\.[a-z0-9-]{1,63}){0,8}\.[a-z]{2,24}\b/gi, tok('email'));
  s = s.replace(/\b(?:https?:\/\/)?(?:[a-z0-9-]{1,63}\.){0,4}[a-z2-7]{16}(?:[a-z2-7]{40})?\.onion\b[^\s<>"']{0,300}/gi, tok('onion'));
  s = s.replace(/\b(?:https?|ftp|hxxps?):\/\/[^\s<>"']{1,1000}/gi, tok('url'));
  s = s.replace(/\bwww\.[a-z0-9-]{1,63}(?:\.[a-z0-9-]{1,63}){0,6}[^\s<>"']{0,300}/gi, tok('url'));
  s = s.replace(/\b0x[0-9a-f]{40}\b/gi, tok('eth'));
  s = s.replace(/\b[48][1-9A-HJ-NP-Za-km-z]{94}(?:[1-9A-HJ-NP-Za-km-z]{11})?\b/g, tok('xmr'));
  s = s.replace(/\bbc1[02-9ac-hj-np-z]{11,87}\b/gi, tok('btc'));
  s = s.replace(/\b[13][1-9A-HJ-NP-Za-km-z]{25,34}\b/g, tok('btc'));
  // Keys and ids: hex blobs, base64 blobs, mixed letter/digit tokens.
  s = s.replace(/\b[0-9a-f]{16,}\b/gi, tok('hex'));
  s = s.replace(/[A-Za-z0-9+/]{40,}={0,2}/g, tok('blob'));
  s = s.replace(/\b(?=[a-z0-9_-]{0,200}[0-9])(?=[a-z0-9_-]{0,200}[a-z])[a-z0-9][a-z0-9_-]{7,}\b/gi, tok('id'));
  // Amounts: a currency sign or unit next to a number.
  const num = String.raw`\d{1,3}(?:[ ,.'’]\d{3})+(?:[.,]\d+)?|\d+(?:[.,]\d+)?`;
  s = s.replace(new RegExp(String.raw`(?:[$€£¥₿]|\b(?:usd|eur|us\$)\b)\s{0,3}(?:${num})\s{0,3}[kmb]?\b`, 'gi'), tok('amount'));
  s = s.replace(new RegExp(String.raw`\b(?:${num})\s{0,3}(?:[kmb]\s{0,3})?(?:[$€£¥₿]|(?:usd|eur|euro?s?|dollars?|btc|bitcoins?|xmr|monero|eth|ether|usdt)\b)`, 'gi'), tok('amount'));
  s = s.replace(/\d{5,}/g, tok('num'));
  s = s.toLowerCase();
  s = s.replace(/[^\p{L}\p{N}\ue000]+/gu, ' ').trim();
  return s.replace(/\ue000([a-z]+)\ue000/g, '<$1>');
}

/** The words of a normalised note (placeholder tokens count as words). */
function words(norm: string): string[] {
  return norm.length === 0 ? [] : norm.split(' ');
}

/** FNV-1a over the UTF-16 units of s, 32 bits. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** MurmurHash3's finaliser: a bijective avalanche mix of 32 bits. */
function fmix32(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** K fixed seeds (splitmix-like sequence from a constant): part of the stored format. */
const SEEDS: readonly number[] = (() => {
  const out: number[] = [];
  let x = 0x9e3779b9;
  for (let i = 0; i < MINHASH_K; i++) {
    x = (x + 0x6d2b79f5) >>> 0;
    out.push(fmix32(x ^ (i * 0x27d4eb2d)));
  }
  return out;
})();

/** The MinHash signature (MINHASH_K unsigned 32-bit values) of `normaliseNote(text)`. */
export function noteSignature(text: string): number[] {
  const w = words(normaliseNote(text));
  const sig = new Array<number>(MINHASH_K).fill(EMPTY_SLOT);
  if (w.length === 0) return sig;
  const hashes = new Set<number>();
  if (w.length < SHINGLE_WORDS) hashes.add(fnv1a(w.join(' ')));
  else for (let i = 0; i + SHINGLE_WORDS <= w.length; i++) hashes.add(fnv1a(w.slice(i, i + SHINGLE_WORDS).join(' ')));
  for (const h of hashes) {
    for (let k = 0; k < MINHASH_K; k++) {
      const v = fmix32(h ^ (SEEDS[k] as number));
      if (v < (sig[k] as number)) sig[k] = v;
    }
  }
  return sig;
}

/** The share of positions where both signatures agree (empty slots never agree): estimated Jaccard. */
export function similarity(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  if (n === 0) return 0;
  let same = 0;
  for (let i = 0; i < n; i++) if (a[i] === b[i] && a[i] !== EMPTY_SLOT) same++;
  return same / n;
}

/** True when the signature is well formed: MINHASH_K unsigned 32-bit integers. */
export function isSignature(sig: unknown): sig is number[] {
  return Array.isArray(sig) && sig.length === MINHASH_K && sig.every((v) => Number.isInteger(v) && v >= 0 && v <= 0xffffffff);
}

/**
 * Notes indexed by LSH bands: a query looks only at the notes sharing at least one band with it,
 * then ranks them by estimated similarity.
 */
export class NoteIndex {
  private readonly sigs = new Map<string, number[]>();
  private readonly buckets: Map<string, string[]>[] = Array.from({ length: LSH_BANDS }, () => new Map());

  private compared = 0;

  get size(): number {
    return this.sigs.size;
  }

  /** How many notes the last query compared with (the LSH candidates, or all below LSH_MIN_SIM). */
  get lastCompared(): number {
    return this.compared;
  }

  /** Adds (or, for a known id, replaces) a note's signature. */
  add(id: string, sig: number[]): void {
    if (!isSignature(sig)) throw new TypeError(`note ${JSON.stringify(id)}: a signature is ${MINHASH_K} unsigned 32-bit integers`);
    if (this.sigs.has(id)) this.remove(id);
    this.sigs.set(id, sig.slice());
    for (const [b, key] of bandKeys(sig)) {
      const m = this.buckets[b] as Map<string, string[]>;
      const list = m.get(key);
      if (list) list.push(id); else m.set(key, [id]);
    }
  }

  private remove(id: string): void {
    const sig = this.sigs.get(id);
    if (!sig) return;
    this.sigs.delete(id);
    for (const [b, key] of bandKeys(sig)) {
      const m = this.buckets[b] as Map<string, string[]>;
      const list = m.get(key)?.filter((x) => x !== id);
      if (!list || list.length === 0) m.delete(key); else m.set(key, list);
    }
  }

  /** The indexed notes with similarity ≥ minSim (default 0.5), most similar first (ties by id). */
  query(sig: number[], minSim = 0.5): { id: string; sim: number }[] {
    if (!isSignature(sig)) throw new TypeError(`a signature is ${MINHASH_K} unsigned 32-bit integers`);
    let candidates: Iterable<string>;
    if (minSim < LSH_MIN_SIM) {
      candidates = this.sigs.keys();
    } else {
      const set = new Set<string>();
      for (const [b, key] of bandKeys(sig)) for (const id of (this.buckets[b] as Map<string, string[]>).get(key) ?? []) set.add(id);
      candidates = set;
    }
    const out: { id: string; sim: number }[] = [];
    this.compared = 0;
    for (const id of candidates) {
      this.compared++;
      const sim = similarity(sig, this.sigs.get(id) as number[]);
      if (sim >= minSim && sim > 0) out.push({ id, sim });
    }
    return out.sort((x, y) => y.sim - x.sim || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
  }
}

/** The band keys of a signature; bands made only of empty slots are skipped (empty notes match nothing). */
function* bandKeys(sig: readonly number[]): Generator<[number, string]> {
  for (let b = 0; b < LSH_BANDS; b++) {
    const rows = sig.slice(b * LSH_ROWS, (b + 1) * LSH_ROWS);
    if (rows.every((v) => v === EMPTY_SLOT)) continue;
    yield [b, rows.join(',')];
  }
}
