/**
 * The identification test set derived from the knowledge base (used by accuracy.test.ts).
 *
 * In: a knowledge base, the galaxy's note texts per family, a seed. Out: one case per family and
 * condition — (a) `names`: 3..6 original names of various types encrypted with one of the
 * family's extension patterns (suffixes appended; templates filled with one random victim id and
 * e-mail, as one victim gets one of each; `[RANDOM:n]`/`random:n` filled with random characters;
 * regex patterns are not instantiated), (b) `note`: one of the family's galaxy notes perturbed as
 * another victim's copy (kb/testdata.ts `perturbNote`: ids, amounts, addresses, e-mails, spacing)
 * with 10–30% of its lines (or sentences, for notes on a few lines) dropped, under one of the
 * family's note names with wildcards filled (`README.txt` when it has none), (c) `both` — with the
 * contacts extracted from names and note as signals.ts does.
 * Why: accuracy must be measured on every family with enough data, reproducibly (mulberry32).
 */
import type { ExtensionPattern, Family, KnowledgeBase, Signals } from '../types.js';
import { mulberry32 } from '../../core/random.js';
import { MIN_NOTE_WORDS } from '../kb/misp.js';
import { normaliseNote } from '../kb/minhash.js';
import { perturbNote } from '../kb/testdata.js';
import { addTextSignals, emptySignals } from './signals.js';

export const SEED = 20261129;

/**
 * `names`, `note`, `both` are the conditions; `text` is `note` under the generic name
 * `README.txt` whatever the family's note names (what the note text alone is worth); `torn` is
 * `text` with 40–60% of the note dropped instead of 10–30%.
 */
export type Condition = 'names' | 'note' | 'both' | 'text' | 'torn';
export const CONDITIONS: readonly Condition[] = ['names', 'note', 'both', 'text', 'torn'];

const ORIGINALS = [
  'Quarterly report 2024.docx', 'IMG_20230611_142233.jpg', 'invoice-0043.pdf', 'family holiday.mp4', 'budget.xlsx', 'backup.sql',
  'thesis final v3.odt', 'passwords.kdbx', 'song.mp3', 'archive.zip', 'presentation.pptx', 'scan0001.tif', 'notes.txt', 'site.php',
  'contract_signed.pdf', 'DSC_0042.NEF', 'database.mdb', 'payroll.csv', 'drawing.dwg', 'mailbox.pst',
];

type Rnd = () => number;
const pick = <T>(rnd: Rnd, xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
const chars = (rnd: Rnd, alphabet: string, n: number): string => Array.from({ length: n }, () => pick(rnd, alphabet.split(''))).join('');
const ALNUM = 'abcdefghijklmnopqrstuvwxyz0123456789';
const HEXU = '0123456789ABCDEF';

/** One victim's values: a template uses the same id and e-mail on every file. */
interface Victim { id: string; email: string; ext: string }

function victim(rnd: Rnd): Victim {
  return {
    id: chars(rnd, HEXU, 8),
    email: `${chars(rnd, 'abcdefghijklmnopqrstuvwxyz', 5 + Math.floor(rnd() * 5))}${Math.floor(rnd() * 100)}@${pick(rnd, ['protonmail.com', 'tutanota.com', 'cock.li', 'aol.com', 'gmx.de'])}`,
    ext: chars(rnd, 'abcdefghijklmnopqrstuvwxyz', 3 + Math.floor(rnd() * 3)),
  };
}

function fillTemplate(t: string, original: string, v: Victim, rnd: Rnd): string {
  let hasOriginal = false;
  const body = t.replace(/\[(ID|EMAIL|EXT|ORIGINAL|RANDOM:([1-9][0-9]?))\]/g, (_m, what: string, n?: string) => {
    if (n) return chars(rnd, ALNUM, Number(n));
    if (what === 'ID') return v.id;
    if (what === 'EMAIL') return v.email;
    if (what === 'EXT') return v.ext;
    hasOriginal = true;
    return original;
  });
  return hasOriginal ? body : original + body;
}

function encryptName(p: ExtensionPattern, original: string, v: Victim, rnd: Rnd): string {
  switch (p.kind) {
    case 'suffix': return original + p.value;
    case 'template': return fillTemplate(p.value, original, v, rnd);
    case 'random': return `${original}.${chars(rnd, ALNUM, p.length)}`;
    default: return original;
  }
}

/** The note with 10–30% of its lines (or sentences, for a note on a few lines) dropped. */
function dropParts(text: string, rnd: Rnd, min = 0.1, spread = 0.2): string {
  let parts = text.split(/\r?\n/);
  let sep = '\n';
  if (parts.filter((l) => l.trim()).length < 5) {
    parts = text.split(/(?<=[.!?])\s+/);
    sep = ' ';
  }
  const share = min + rnd() * spread;
  const drop = Math.floor(parts.length * share);
  for (let i = 0; i < drop && parts.length > 1; i++) parts.splice(Math.floor(rnd() * parts.length), 1);
  return parts.join(sep);
}

function noteName(f: Family, rnd: Rnd): string {
  if (f.noteNames.length === 0) return 'README.txt';
  return pick(rnd, f.noteNames).replace(/\*/g, () => chars(rnd, ALNUM, 6));
}

const norm = (s: string): string => s.toLowerCase().replace(/ransomware|ransom|locker|crypt(?:or|er)?/g, '').replace(/[^a-z0-9]+/g, '');

function names(f: Family): Set<string> {
  return new Set([f.name, ...f.synonyms].map(norm).filter((s) => s.length >= 3));
}

export function sameFamily(a: Family, b: Family): boolean {
  if (a.id === b.id) return true;
  const na = names(a);
  for (const n of names(b)) if (na.has(n)) return true;
  return false;
}

export interface Case { family: Family; condition: Condition; signals: Signals }

export function buildCases(kb: KnowledgeBase, notesByFamily: Map<string, string[]>, seed = SEED): Case[] {
  const out: Case[] = [];
  kb.families.forEach((f, i) => {
    const rnd = mulberry32(seed ^ Math.imul(i + 1, 0x9e3779b1));
    const usable = f.extensions.filter((p) => p.kind !== 'regex');
    const texts = notesByFamily.get(f.id) ?? [];
    const makeNames = (s: Signals): void => {
      const v = victim(rnd);
      const p = pick(rnd, usable);
      const n = 3 + Math.floor(rnd() * 4);
      for (let k = 0; k < n; k++) {
        const name = encryptName(p, pick(rnd, ORIGINALS), v, rnd);
        s.encryptedNames.push(name);
        addTextSignals(s, name, true);
      }
    };
    const makeNote = (s: Signals, generic = false, torn = false): void => {
      const text = dropParts(perturbNote(pick(rnd, texts), Math.floor(rnd() * 2 ** 31)), rnd, torn ? 0.4 : 0.1, 0.2);
      const name = noteName(f, rnd);
      s.notes.push({ name: generic ? 'README.txt' : name, text });
      addTextSignals(s, text);
    };
    if (usable.length > 0) {
      const s = emptySignals();
      makeNames(s);
      out.push({ family: f, condition: 'names', signals: s });
    }
    if (texts.length > 0) {
      const s = emptySignals();
      makeNote(s);
      out.push({ family: f, condition: 'note', signals: s });
    }
    if (usable.length > 0 && texts.length > 0) {
      const s = emptySignals();
      makeNames(s);
      makeNote(s);
      out.push({ family: f, condition: 'both', signals: s });
    }
    if (texts.length > 0) {
      const s = emptySignals();
      makeNote(s, true);
      out.push({ family: f, condition: 'text', signals: s });
      const torn = emptySignals();
      makeNote(torn, true, true);
      out.push({ family: f, condition: 'torn', signals: torn });
    }
  });
  return out;
}

/** The galaxy's note texts per family of the knowledge base (by the `misp:UUID` source). */
export function galaxyNotes(galaxy: unknown, kb: KnowledgeBase): Map<string, string[]> {
  const byUuid = new Map<string, string>();
  for (const f of kb.families) for (const s of f.sources) if (s.startsWith('misp:')) byUuid.set(s.slice(5), f.id);
  const out = new Map<string, string[]>();
  const values = (galaxy as { values?: { uuid?: string; meta?: Record<string, unknown> }[] }).values ?? [];
  for (const v of values) {
    const id = v.uuid ? byUuid.get(v.uuid.toLowerCase()) : undefined;
    if (!id) continue;
    for (const key of ['ransomnotes', 'ransomenotes']) {
      const notes = v.meta?.[key];
      if (!Array.isArray(notes)) continue;
      for (const t of notes) {
        if (typeof t !== 'string' || normaliseNote(t).split(' ').length < MIN_NOTE_WORDS) continue;
        const l = out.get(id) ?? [];
        l.push(t);
        out.set(id, l);
      }
    }
  }
  return out;
}

